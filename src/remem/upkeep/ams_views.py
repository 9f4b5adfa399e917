"""``remem migrate``: the Agent Memory Server's summary views and their stored summaries, moved
into remem's (``background.summary_views``), so a view an AMS client made keeps its id, its
definition, its last summaries and, with ``continuous``, its periodic refresh.

AMS 0.15 keeps (its ``summary_views.py``, checked against keys the real server wrote:
tests/fixtures/ams/ams-0.15.2-views.json):

* ``summary_view:index``: a set of view ids;
* ``summary_view:<id>:config``: a string, the view as JSON (the same fields as remem's);
* ``summary_view:<id>:summary:<partition>``: a string, a partition's result as JSON (the view
  id, the group's values, the summary, the memory count and when it was computed).

A view is read as remem reads a view a client creates (``check_request``): one remem cannot run
(a ``working_memory`` source, a field remem does not group by) is left in AMS with the reason.
A view remem already holds under that id is kept: AMS's copy is removed if it is the same view
(an interrupted run), else left in place and reported. A summary is stored under remem's key for
its group (computed over every scope, as AMS computed it). Then the AMS keys of the view are
deleted, unless ``keep_source``. AMS's task records (``task:<id>``) are left: they expire.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import ValidationError

from remem.background.summary_views import check_request
from remem.errors import InvalidInput
from remem.memory.identifiers import check_id
from remem.models.views import (
    CreateSummaryViewRequest,
    SummaryView,
    SummaryViewPartitionResult,
)
from remem.store.legacy import LegacySource
from remem.store.views import ViewStore, partition_key
from remem.upkeep.legacy import invalid, scan_literal

INDEX = "summary_view:index"
PREFIX = "summary_view:"


@dataclass
class AmsViewReport:
    found: int = 0
    moved: int = 0
    summaries_moved: int = 0
    already_present: int = 0  # remem held the same view: AMS's copy removed
    skipped: dict[str, str] = field(default_factory=dict)  # AMS key -> reason

    def lines(self, dry_run: bool) -> list[str]:
        if not self.found:
            return []
        verb = "to move" if dry_run else "moved"
        return [
            f"  AMS summary views {verb}: {self.moved:,} of {self.found:,}, with "
            f"{self.summaries_moved:,} stored summaries; {self.already_present:,} already in remem"
        ]


def _config(view_id: str) -> str:
    return f"{PREFIX}{view_id}:config"


def _view_of(raw: bytes) -> SummaryView:
    """AMS's stored view as remem's, or ``InvalidInput`` saying why remem cannot run it."""
    try:
        view = SummaryView.model_validate_json(raw)
    except ValidationError as exc:
        raise InvalidInput(str(invalid(exc))) from None
    check_request(CreateSummaryViewRequest.model_validate(view.model_dump(exclude={"id"})))
    return view


@dataclass
class AmsViews:
    """One run over the summary views of AMS in ``source``'s Redis."""

    source: LegacySource
    views: ViewStore
    report: AmsViewReport
    dry_run: bool = False
    keep_source: bool = False

    async def run(self) -> AmsViewReport:
        listed = {m.decode(errors="replace") for m in await self.source.set_members(INDEX)}
        configs = await self.source.keys(f"{PREFIX}*:config", 1000, "string")
        found = listed | {
            k.decode(errors="replace")[len(PREFIX) : -len(":config")] for k in configs
        }
        self.report.found = len(found)
        for view_id in sorted(found):
            await self._move(view_id)
        return self.report

    async def _move(self, view_id: str) -> None:
        raw = await self.source.get(_config(view_id))
        if raw is None:  # listed, without its view: nothing to move, the stale id goes
            self.report.found -= 1
            if not (self.dry_run or self.keep_source):
                await self.source.remove_members(INDEX, view_id)
            return
        try:
            check_id("view id", view_id)  # remem's API must be able to name it
            view = _view_of(raw)
            if view.id != view_id:
                raise InvalidInput(f"its JSON names another id, {view.id!r}")
        except InvalidInput as exc:
            self.report.skipped[_config(view_id)] = exc.detail
            return
        held = await self.views.get_view(view_id)
        if held is not None:
            if SummaryView.model_validate_json(held) != view:
                self.report.skipped[_config(view_id)] = "remem holds another view with this id"
                return
            self.report.already_present += 1
        else:
            self.report.moved += 1
        # remem's own summaries of a view it already held are newer than AMS's: kept.
        kept = set(await self.views.list_results(view_id)) if held is not None else set()
        summaries = await self.source.keys(f"{PREFIX}{scan_literal(view_id)}:summary:*", 1000)
        taken: list[bytes] = []
        results: list[tuple[str, str]] = []
        for key in summaries:
            value = await self.source.get(key)
            if value is None:
                taken.append(key)  # gone meanwhile: nothing to move
                continue
            try:
                result = SummaryViewPartitionResult.model_validate_json(value)
            except ValidationError as exc:
                self.report.skipped[key.decode(errors="replace")] = str(invalid(exc))
                continue
            if result.view_id != view_id:
                self.report.skipped[key.decode(errors="replace")] = "a summary of another view"
                continue
            taken.append(key)
            if (group := partition_key({}, result.group)) not in kept:
                results.append((group, result.model_dump_json()))
        self.report.summaries_moved += len(results)
        if self.dry_run:
            return
        if held is None:
            await self.views.save_view(view_id, view.model_dump_json())
        for group, result_json in results:
            await self.views.save_result(view_id, group, result_json)
        if self.keep_source:
            return
        await self.source.delete(*taken)
        if len(taken) == len(summaries):  # the view goes once none of its summaries is left
            await self.source.delete(_config(view_id))
            await self.source.remove_members(INDEX, view_id)
