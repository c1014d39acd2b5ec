"""``_policy.yaml``'s role map: who may act on the risk manager's desk (:mod:`mrm.ticketing.review`).

The model risk team (second line: reviewers) is one list; owners and developers are by model, added to
the entry's own ``owner`` and ``developer``. A person is an id as Airflow's auth manager names them (a
user name or an e-mail address); ids compare without regard to case. Checked against the models by
:func:`check_roles` (``mrm inventory validate``): unknown model ids, and a reviewer who owns or develops
the same model (segregation of duties), one line each."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

from pydantic import Field

from mrm.inventory.base import Strict

PersonId = Annotated[str, Field(pattern=r"^\S{1,256}$", description="a user name or e-mail, no spaces")]


def person_key(person: str) -> str:
    """How person ids are compared: stripped, lower-case."""
    return person.strip().lower()


class ModelRoles(Strict):
    """The first line of one model, beyond the entry's ``owner`` and ``developer``."""

    owners: list[PersonId] = Field(default_factory=list)
    developers: list[PersonId] = Field(default_factory=list)


class Roles(Strict):
    model_risk_team: list[PersonId] = Field(default_factory=list)  # reviewers (second line of defence)
    models: dict[str, ModelRoles] = Field(default_factory=dict)

    def reviewers(self) -> set[str]:
        return {person_key(p) for p in self.model_risk_team}

    def owners(self, model_id: str, entry_owner: str | None = None) -> set[str]:
        extra = self.models.get(model_id, ModelRoles()).owners
        return {person_key(p) for p in (*extra, *([entry_owner] if entry_owner else []))}

    def developers(self, model_id: str, entry_developer: str | None = None) -> set[str]:
        extra = self.models.get(model_id, ModelRoles()).developers
        return {person_key(p) for p in (*extra, *([entry_developer] if entry_developer else []))}


def check_roles(
    roles: Roles, people: dict[str, tuple[str, str]], known: Iterable[str], where: str
) -> list[str]:
    """Problems of the role map, one line each. ``people``: model id -> (entry owner, entry developer) of
    the valid entries; ``known``: every model id the folder names (a broken file's too); ``where``: the
    policy file's path, for the messages."""
    known = set(known)
    problems = [
        f"{where}: roles.models.{model_id}: unknown model id (models: {', '.join(sorted(known)) or 'none'})"
        for model_id in sorted(set(roles.models) - known)
    ]
    team = {person_key(p): p for p in roles.model_risk_team}
    for model_id in sorted(set(people) | (set(roles.models) & known)):
        owner, developer = people.get(model_id, (None, None))
        for role, ids in (
            ("owner", roles.owners(model_id, owner)),
            ("developer", roles.developers(model_id, developer)),
        ):
            for key in sorted(ids & set(team)):
                problems.append(
                    f"{where}: roles: {team[key]} is in model_risk_team and {role} of {model_id}: a reviewer "
                    f"may not review a model they own or develop; remove them from one of the two"
                )
    return problems
