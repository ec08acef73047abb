-- wrk script for scripts/ab-bench.sh and scripts/tls-bench.sh: the reference create, as the bootstrap admin
-- of a server started with OPENFRAME_ADMIN_PASSWORD=bench; prints "RESULT <creates/s>" at the end.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json"
wrk.headers["Authorization"] = "Basic YWRtaW46YmVuY2g="
wrk.body = [[{ "interaction":{ "userPhoneNumber":"+1303506536", "clientSessionId":"a545t65678", "callbackPhoneNumber":"+14089965744", "additionalParams":{ "direction":"inbound", "short_description":"New outbound call", "assigned_to":"a8f98bb0eb32010045e1a5115206fe3a" } }, "interactionContext":{ "devicetype":"genesys", "requester_session_language":"en-US" }, "phoneLogs":[ { "call_id":"2323223", "agent":"a8f98bb0eb32010045e1a5115206fe3a", "start_time":"2024-11-04 21:45:00" }, { "call_id":"33535353", "agent":"a8f98bb0eb32010045e1a5115206fe3a", "start_time":"2024-11-04 21:45:00" }, { "call_id":"1997654", "agent":"a8f98bb0eb32010045e1a5115206fe3a", "start_time":"2024-11-04 21:45:00" } ], "relatedRecords":[ { "documentTable":"csm_consumer", "documentId":"59e788fbdb1b1200b6075200cf9619d2" }, { "documentTable":"sys_user", "documentId":"62826bf03710200044e0bfc8bcbe5df1" } ]}]]
local non200 = 0
response = function(status, headers, body)
  if status ~= 200 then non200 = non200 + 1 end
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %.1f\n", summary.requests / (summary.duration / 1e6)))
  if non200 > 0 then io.stderr:write(string.format("%d answers were not 200\n", non200)) end
end
