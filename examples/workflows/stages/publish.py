#!/usr/bin/env python3
import json, sys
ctx = json.load(sys.stdin)
ctx["published"] = {"approvedBy": ctx["signals"]["approved"].get("by"), "suggestions": len(ctx["validSuggestions"])}
json.dump(ctx, sys.stdout)
