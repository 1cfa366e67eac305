// How times and ages read on every page: plain functions, no side effects, so any page
// (the desk, the door) can use them without running the attendee pages' start-up.

/** "09:00" from "2014-10-20T09:00:00+02:00": the API already writes the event's local time. */
export const clockTime = (iso) => iso.slice(11, 16);

export function dayLabel(isoDate) {
  const date = new Date(`${isoDate}T12:00:00Z`);
  return date.toLocaleDateString("en-GB", { weekday: "long", day: "numeric", month: "long", timeZone: "UTC" });
}

export function ageText(at) {
  const minutes = Math.round((Date.now() - at) / 60000);
  const time = new Date(at).toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit" });
  if (minutes < 1) return `just now (${time})`;
  if (minutes < 60) return `${minutes} minute${minutes === 1 ? "" : "s"} ago (${time})`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `${hours} hour${hours === 1 ? "" : "s"} ago (${time})`;
  return `on ${new Date(at).toLocaleString("en-GB")}`;
}
