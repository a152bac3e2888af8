"""Parses Prometheus text exposition from stdin with the prometheus_client reference parser
(which raises on any malformed line) and prints the samples as JSON:
{"families": {name: type}, "samples": [[name, {label: value}, value], ...]}.
Also fails on a family described twice or a sample outside its family's declared TYPE."""
import json
import sys

from prometheus_client.parser import text_string_to_metric_families

text = sys.stdin.read()
types = {}
samples = []
for family in text_string_to_metric_families(text):
    if family.name in types:
        sys.exit(f"family {family.name} appears twice")
    types[family.name] = family.type
    for sample in family.samples:
        samples.append([sample.name, sample.labels, sample.value])
declared = [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")]
if len(declared) != len(set(declared)):
    sys.exit("a # TYPE line is repeated")
json.dump({"families": types, "samples": samples}, sys.stdout)
