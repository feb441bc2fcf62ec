"""What users write by hand today: a plain standard-library CSV to Gemini JSONL script, with no
validation, no token counting and no split. The benchmark's baseline for CSV conversion."""
import csv
import json
import resource
import sys
import time

start = time.perf_counter()
with open(sys.argv[1], newline="", encoding="utf-8-sig") as source, open(sys.argv[2], "w", encoding="utf-8") as out:
    for row in csv.DictReader(source):
        out.write(json.dumps({"contents": [
            {"role": "user", "parts": [{"text": row["prompt"]}]},
            {"role": "model", "parts": [{"text": row["response"]}]},
        ]}, ensure_ascii=False) + "\n")
elapsed = time.perf_counter() - start
print(json.dumps({"seconds": elapsed, "maxRssBytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
