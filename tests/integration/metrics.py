#!/usr/bin/python3
"""Reads the app's /_fcgi_app/metrics text on stdin with Debian's
python3-prometheus-client parser (prometheus_client.parser) and prints:

  family NAME TYPE HELP-PRESENT(yes|no)    once per family
  NAME{LABEL="V",...} VALUE                once per sample, labels sorted

then one line "cumulative yes|no": whether every histogram's buckets are
non-decreasing in `le` and end with +Inf equal to _count.  A parse error
exits 1 with the parser's message.
"""
import sys

from prometheus_client.parser import text_string_to_metric_families


def fmt(v):
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def main():
    text = sys.stdin.read()
    try:
        families = list(text_string_to_metric_families(text))
    except Exception as e:  # the parser raises ValueError and others
        print("parse error: %s" % e)
        return 1
    cumulative = True
    for f in families:
        # The parser names a counter family without its _total suffix.
        name = f.name + "_total" if f.type == "counter" else f.name
        print("family %s %s %s" % (name, f.type, "yes" if f.documentation else "no"))
        series = {}
        for s in f.samples:
            labels = ",".join('%s="%s"' % (k, s.labels[k]) for k in sorted(s.labels))
            print("%s{%s} %s" % (s.name, labels, fmt(s.value)))
            if f.type == "histogram":
                key = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
                d = series.setdefault(key, {"buckets": [], "count": None})
                if s.name.endswith("_bucket"):
                    d["buckets"].append((float(s.labels["le"]), s.value))
                elif s.name.endswith("_count"):
                    d["count"] = s.value
        for d in series.values():
            b = d["buckets"]
            if not b or b[-1][0] != float("inf") or b[-1][1] != d["count"]:
                cumulative = False
            for (le0, v0), (le1, v1) in zip(b, b[1:]):
                if le1 <= le0 or v1 < v0:
                    cumulative = False
    print("cumulative %s" % ("yes" if cumulative else "no"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
