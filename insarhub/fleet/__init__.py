"""A fleet of AOIs: the fleet file, its monthly credit budget and its status (no Prefect)."""

from insarhub.fleet.budget import FleetBudget, Need, Plan, month_of, plan
from insarhub.fleet.model import (
    EntryProblem,
    Fleet,
    FleetEntry,
    FleetError,
    add_entry,
    load_fleet,
    remove_entry,
)

__all__ = ["EntryProblem", "Fleet", "FleetBudget", "FleetEntry", "FleetError", "Need", "Plan",
           "add_entry", "load_fleet", "month_of", "plan", "remove_entry"]
