"""Validates a samplan FHIR export with an independent library.

Usage: validate.py BUNDLE.json

Every resource is parsed by `fhir.resources` 6.5 (FHIR R4 models, pydantic 1), which checks
cardinalities, types and required elements; on top of that, this script checks what the models
leave to value sets and to the bundle as a whole: the CarePlan's status and intent codes, Goal and
activity statuses, and that every `urn:uuid:` reference names an entry of the bundle.
"""

import json
import sys

from fhir.resources import construct_fhir_element
from fhir.resources.bundle import Bundle

# FHIR R4 value sets (hl7.org/fhir/R4): request-status, care-plan-intent, goal-status,
# care-plan-activity-status, care-team-status.
CARE_PLAN_STATUS = {"draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown"}
CARE_PLAN_INTENT = {"proposal", "plan", "order", "option"}
GOAL_LIFECYCLE = {"proposed", "planned", "accepted", "active", "on-hold", "completed", "cancelled",
                  "entered-in-error", "rejected"}
ACTIVITY_STATUS = {"not-started", "scheduled", "in-progress", "on-hold", "completed", "cancelled",
                   "stopped", "unknown", "entered-in-error"}
CARE_TEAM_STATUS = {"proposed", "active", "suspended", "inactive", "entered-in-error"}


def references(value):
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "reference" and isinstance(item, str):
                yield item
            else:
                yield from references(item)
    elif isinstance(value, list):
        for item in value:
            yield from references(item)


def main(path):
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    errors = []
    bundle = Bundle.parse_obj(data)
    if bundle.type != "collection":
        errors.append(f"Bundle.type is {bundle.type}, expected collection")
    urls = set()
    kinds = {}
    for entry in data.get("entry", []):
        resource = entry["resource"]
        kind = resource["resourceType"]
        # Each resource once more on its own, so an error names it.
        try:
            construct_fhir_element(kind, resource)
        except Exception as e:  # noqa: BLE001 - report every failure
            errors.append(f"{kind}/{resource.get('id')}: {e}")
        if entry["fullUrl"] != f"urn:uuid:{resource['id']}":
            errors.append(f"fullUrl {entry['fullUrl']} does not match id {resource['id']}")
        urls.add(entry["fullUrl"])
        kinds.setdefault(kind, []).append(resource)
    for ref in references(data):
        if ref.startswith("urn:uuid:") and ref not in urls:
            errors.append(f"reference {ref} names no entry")
    plans = kinds.get("CarePlan", [])
    if len(plans) != 1:
        errors.append(f"{len(plans)} CarePlans, expected 1")
    for plan in plans:
        if plan["status"] not in CARE_PLAN_STATUS:
            errors.append(f"CarePlan.status {plan['status']}")
        if plan["intent"] not in CARE_PLAN_INTENT:
            errors.append(f"CarePlan.intent {plan['intent']}")
        for activity in plan.get("activity", []):
            status = activity.get("detail", {}).get("status")
            if status not in ACTIVITY_STATUS:
                errors.append(f"activity status {status}")
    for goal in kinds.get("Goal", []):
        if goal["lifecycleStatus"] not in GOAL_LIFECYCLE:
            errors.append(f"Goal.lifecycleStatus {goal['lifecycleStatus']}")
    for team in kinds.get("CareTeam", []):
        if team.get("status") not in CARE_TEAM_STATUS:
            errors.append(f"CareTeam.status {team.get('status')}")
    for kind in ("CarePlan", "Patient", "CareTeam", "Organization"):
        if kind not in kinds:
            errors.append(f"no {kind}")
    if errors:
        print("\n".join(errors))
        return 1
    print(f"valid: {sum(len(v) for v in kinds.values())} resources")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
