#!/usr/bin/env python3
import json, sys
ctx = json.load(sys.stdin)
model = (ctx.get("config") or {}).get("model", "default")
ctx["validSuggestions"] = [{"file": "src/app.py", "line": 10, "text": f"reviewed with {model}"}]
json.dump(ctx, sys.stdout)
