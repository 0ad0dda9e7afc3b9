#!/usr/bin/env python3
# Asks wfq to park the job until `wfq signal approved --key PR --data '{...}'` (or 24h pass).
import json, sys
ctx = json.load(sys.stdin)
ctx["$wait"] = {"event": "approved", "key": str(ctx["pullRequest"]["number"]), "timeout": "24h"}
json.dump(ctx, sys.stdout)
