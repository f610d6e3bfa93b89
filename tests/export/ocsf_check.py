"""The events of `trailseal follow --format ocsf` are valid OCSF, by a validator we did not write.

Usage: ocsf_check.py EVENTS.jsonl SIZE

EVENTS.jsonl is what `follow --format ocsf --from 0 --until-size SIZE` printed for a ledger of
native entries. Every event is validated with the OCSF 1.3.0 model of its class from
pydantic-ocsf (PyPI, pinned in venv.sh), which enforces required attributes, types and enum
siblings; then every object in it is held to the `at_least_one` / `just_one` constraints of
the OCSF 1.3.0 schema that package ships (the models leave those out). Each event must also say
where its entry sits: index i on line i.
"""

import json
import pathlib
import sys

import ocsf
from ocsf.v1_3_0 import events as models

events_file, size = sys.argv[1], int(sys.argv[2])
schema = json.loads(
    (pathlib.Path(ocsf.__file__).parent / "schemas" / "v1_3_0.json").read_text()
)
objects, dictionary = schema["objects"], schema["dictionary"]["attributes"]
categories = schema["categories_meta"]["attributes"]


def class_uid(name):
    """category uid * 1000 + the class's uid; the category is the class it extends."""
    c = schema["events"][name]
    parent = c.get("extends")
    while parent not in categories and parent in schema["events"]:
        parent = schema["events"][parent].get("extends")
    return categories[parent]["uid"] * 1000 + c["uid"] if parent in categories else None


classes = {
    class_uid(name): name
    for name, c in schema["events"].items()
    if "uid" in c and class_uid(name) is not None
}
assert classes.get(6003) == "api_activity", classes.get(6003)


def class_attributes(name):
    """A class's attributes with those of the classes it extends."""
    attrs = {}
    while name in schema["events"]:
        c = schema["events"][name]
        attrs = {**c.get("attributes", {}), **attrs}
        name = c.get("extends")
    return attrs


def object_type(attr, local):
    t = local.get("object_type") or local.get("type") or dictionary.get(attr, {}).get("type")
    return t if t in objects else None


def check_object(value, name, path, problems):
    if isinstance(value, list):
        for i, v in enumerate(value):
            check_object(v, name, f"{path}[{i}]", problems)
        return
    if not isinstance(value, dict):
        return
    spec = objects[name]
    present = {k for k, v in value.items() if v is not None}
    cons = spec.get("constraints") or {}
    if "at_least_one" in cons and not present & set(cons["at_least_one"]):
        problems.append(f"{path} ({name}) needs one of {cons['at_least_one']}")
    if "just_one" in cons and len(present & set(cons["just_one"])) != 1:
        problems.append(f"{path} ({name}) needs exactly one of {cons['just_one']}")
    for k, v in value.items():
        t = object_type(k, spec.get("attributes", {}).get(k, {}))
        if t:
            check_object(v, t, f"{path}.{k}", problems)


lines = pathlib.Path(events_file).read_text().splitlines()
assert len(lines) == size, f"{len(lines)} events for {size} entries"
by_class = {}
for index, line in enumerate(lines):
    ev = json.loads(line)
    assert ev["unmapped"]["trailseal"]["index"] == index, (index, ev["unmapped"])
    assert ev["metadata"]["sequence"] == index
    name = classes[ev["class_uid"]]
    model = getattr(models, "".join(p.capitalize() for p in name.split("_")))
    model.model_validate(ev)
    problems = []
    attrs = class_attributes(name)
    for k, v in ev.items():
        t = object_type(k, attrs.get(k, {}))
        if t:
            check_object(v, t, k, problems)
    assert not problems, f"event {index}: {problems}"
    by_class[name] = by_class.get(name, 0) + 1
print(f"ok - {size} events valid OCSF 1.3.0 (pydantic-ocsf models and schema constraints): {by_class}")
