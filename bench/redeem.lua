-- wrk script for the redeem benchmark (bench/run.py): POST one scan per request.
--
-- Usage: wrk -t1 -c16 ... -s bench/redeem.lua URL -- TAG PAYLOADS LIST
--   TAG       prefix of every scan_id, new for each wrk run, so scan ids never repeat
--   PAYLOADS  a file of QR payloads, one a line
--   LIST      the check-in list's id or name
-- The k-th request of a run scans ticket k mod N (N payloads): as an exit in the first pass
-- over the tickets, an entry in the second, and so on. Exits are always accepted and, with
-- re-entry allowed, so is an entry after an exit: every scan should be ok (201).
-- At the end it prints one "status CODE COUNT" line per HTTP status seen.

local payloads = {}
local tag, list = "", ""
local sent = 0
statuses = {} -- global, so done() can read each thread's copy

local threads = {}

function setup(thread)
    thread:set("thread_number", #threads + 1)
    table.insert(threads, thread)
end

function init(args)
    tag = args[1] .. "-" .. thread_number
    if thread_number == 1 then
        -- wrk calls request() once in the first thread to check the script before the run, and
        -- never sends that request: without this, ticket 0 would miss its first exit.
        sent = -1
    end
    list = args[3]
    for line in io.lines(args[2]) do
        if line ~= "" then
            payloads[#payloads + 1] = line
        end
    end
    wrk.method = "POST"
    wrk.headers["Content-Type"] = "application/json"
end

function request()
    local n = #payloads
    local kind = (math.floor(sent / n) % 2 == 0) and "exit" or "entry"
    local body = string.format(
        '{"payload": "%s", "list": "%s", "type": "%s", "scan_id": "%s-%d"}',
        payloads[sent % n + 1], list, kind, tag, sent
    )
    sent = sent + 1
    return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
    statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
    local total = {}
    for _, thread in ipairs(threads) do
        for status, count in pairs(thread:get("statuses")) do
            total[status] = (total[status] or 0) + count
        end
    end
    for status, count in pairs(total) do
        io.write(string.format("status %d %d\n", status, count))
    end
end
