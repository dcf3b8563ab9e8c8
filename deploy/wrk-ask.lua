-- wrk script: POST /ask with questions taken in turn (each wrk thread starts at its own offset).
--   wrk -t2 -c8 -d20s -s deploy/wrk-ask.lua http://127.0.0.1:8080
-- Questions: one a line from the file ASKIDCPC_WRK_QUESTIONS names, or a few about the bundled corpus.
-- The last line counts 200s and other statuses (socket errors and timeouts are wrk's own lines).

local questions = {
    "When was the International Department founded?",
    "Who heads the CPC International Department?",
    "How many parties does the CPC have ties with?",
    "What did Song Tao tell the visitors?",
}

local path = os.getenv("ASKIDCPC_WRK_QUESTIONS")
if path then
    questions = {}
    for line in io.lines(path) do
        if line:match("%S") then
            questions[#questions + 1] = line
        end
    end
end

local function json_string(text)
    return '"' .. text:gsub('[%c"\\]', function(c)
        return string.format("\\u%04x", c:byte())
    end) .. '"'
end

local counter = 0
local threads = {}

function setup(thread)
    thread:set("offset", #threads * 7919)
    threads[#threads + 1] = thread
end

function init(args)
    counter = offset or 0
    answered = 0 -- 200s, read back by done() (wrk copies numbers between threads, not tables)
    other = 0
end

function request()
    counter = counter + 1
    local question = questions[(counter % #questions) + 1]
    return wrk.format("POST", "/ask", { ["Content-Type"] = "application/json" },
        '{"question": ' .. json_string(question) .. "}")
end

function response(status, headers, body)
    if status == 200 then
        answered = answered + 1
    else
        other = other + 1
    end
end

function done(summary, latency, requests)
    local ok, failed = 0, 0
    for _, thread in ipairs(threads) do
        ok = ok + thread:get("answered")
        failed = failed + thread:get("other")
    end
    io.write(string.format("answered 200: %d, other statuses: %d; latency p50 %.1f ms, p99 %.1f ms\n", ok, failed,
        latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
