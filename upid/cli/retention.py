"""`upid storage compact` and `cleanup`: the retention tiers (raw samples, hourly rollups) kept tidy.
Registered on the `storage` group by upid/cli/storage.py."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from upid.cli.options import StoreOpt, YesOpt
from upid.cli.session import session
from upid.errors import UsageError
from upid.units import format_count

if TYPE_CHECKING:
    from upid.store.base import Removed

COMPACT_EPILOG = "Example:\n\n  upid storage compact"
CLEANUP_EPILOG = (
    "Examples:\n\n  upid storage cleanup --days-to-keep 30 --dry-run\n\n"
    "  upid storage cleanup --days-to-keep 30 --cluster prod --yes   # cron"
)


def compact(ctx: typer.Context, store: StoreOpt = None) -> None:
    """Write the hourly rollups of every sample block that waits for them (imports and collects leave that for
    later, so they stay fast; cleanup does it first anyway). Long windows read the rollups."""
    s = session(ctx, store)
    done = s.store().compact(s.audit("storage compact"))
    s.notice(f"rolled up {done['blocks']} block(s), {format_count(done['samples'])} samples, into "
             f"{format_count(done['hourly_rows'])} hourly rows")  # fmt: skip


def cleanup(
    ctx: typer.Context,
    days_to_keep: Annotated[
        int | None,
        typer.Option(
            "--days-to-keep",
            metavar="N",
            min=1,
            show_default=False,
            help="Keep this many days of raw samples before each cluster's newest sample "
            "[env UPID_DAYS_TO_KEEP; config days_to_keep; default 35].",
        ),
    ] = None,
    hourly_days_to_keep: Annotated[
        int | None,
        typer.Option(
            "--hourly-days-to-keep",
            metavar="N",
            min=1,
            show_default=False,
            help="Keep this many days of hourly rollups, which long windows read "
            "[env UPID_HOURLY_DAYS_TO_KEEP; config hourly_days_to_keep; default 400].",
        ),
    ] = None,
    cluster: Annotated[
        list[str] | None,
        typer.Option("--cluster", metavar="NAME", show_default=False, help="Only this cluster (repeatable)."),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would be removed; remove nothing.")] = False,
    yes: YesOpt = False,
    store: StoreOpt = None,
) -> None:
    """Delete raw samples and hourly rollups older than their retention, counted back from each cluster's newest
    sample (never from later than now); rollups go by whole blocks. Asks first on a terminal; without one, --yes
    is needed."""
    from upid.errors import NoDataError

    s = session(ctx, store, days_to_keep=days_to_keep, hourly_days_to_keep=hourly_days_to_keep)
    days, hourly, target = s.settings.days_to_keep, s.settings.hourly_days_to_keep, s.store()
    if hourly < days:
        raise UsageError(f"hourly rollups must be kept at least as long as raw samples ({hourly} < {days} days)")
    if cluster:
        unknown = sorted(set(cluster) - set(target.clusters()))
        if unknown:
            raise NoDataError(f"unknown cluster(s) {', '.join(unknown)}; the store has {', '.join(target.clusters())}")
    audit = s.audit("storage cleanup")
    counts = target.cleanup(days, audit, clusters=cluster, dry_run=True, hourly_days_to_keep=hourly)
    if not counts:
        s.notice("nothing to clean up: the store has no samples")
        return
    total = sum(c.samples + c.hourly_rows for c in counts.values())
    if dry_run or not yes:  # what would go, before the question
        for name, count in counts.items():
            s.notice(f"cluster {name}: would remove {_removed(count, days, hourly)}")
    if not total and yes:
        s.notice(f"nothing to remove: no sample is older than {days} days, no hourly rollup older than {hourly}")
    if dry_run or not total:
        return
    samples = format_count(sum(c.samples for c in counts.values()))
    rows = format_count(sum(c.hourly_rows for c in counts.values()))
    s.confirm(f"Remove {samples} samples and {rows} hourly rows of {len(counts)} cluster(s) for good?", yes)
    removed = target.cleanup(days, audit, clusters=cluster, hourly_days_to_keep=hourly)
    for name, count in removed.items():
        s.notice(f"cluster {name}: removed {_removed(count, days, hourly)}")


def _removed(count: Removed, days: int, hourly: int) -> str:
    text = f"{format_count(count.samples)} samples older than {days} days"
    return text + (f", {format_count(count.hourly_rows)} hourly rows older than {hourly}" if count.hourly_rows else "")
