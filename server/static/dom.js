// The two DOM helpers every page script uses: building text nodes (never innerHTML: names and
// messages come from people) and finding an element by id.
export const $ = (id) => document.getElementById(id);

export function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = text;
  if (className) node.className = className;
  return node;
}
