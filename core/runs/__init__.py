"""Runs: every training kept as a run record, listed, compared, starred, pruned, rerun.

Public API (stable; the CLI's `marquee runs ...` and the app's Runs page use only this):

- `RunRecord` (frozen, `to_dict`/`from_dict`/`to_json`/`from_json`): `id`, `started`/`ended`
  (ISO 8601 UTC), `status` (running | finished | stopped | failed; a run whose writer was
  killed reads as failed), `wall_s`, `device`, `marquee_version`, `origin` (cli | app |
  torchrun | rerun), `settings` (every TrainConfig field), `labels`, `data`
  (`DataIdentity`), `history` (`EpochRecord` per epoch: epoch, train_loss, val_loss, map,
  f1_micro, f1_macro, seconds, per_label_ap; epochs count on from the parent's), `metrics`
  (final, F1 at tuned thresholds), `per_label` (dicts: name, ap, precision, recall, f1,
  support, threshold), `thresholds`, `model_file`, `parent` (run id), `previous_epochs`,
  `starred`, `disk_bytes`, `error`.
- `DataIdentity`: `path`, `kind`, `counts` per split, `labels_fingerprint`,
  `files_fingerprint`, `fixes_revision`, `fixes_applied`, `images` (image id -> label-row
  digest), `load_options`; `.fingerprint` ("same data"), `.name`.
- `RunSummary`: one index row (id, started, ended, status, dataset, dataset_path,
  data_fingerprint, backbone, strategy, epochs, image_size, map, f1_micro, f1_macro, wall_s,
  disk_bytes, starred, parent, device, origin, has_model).
- `RunStore(root=None)`: `list()` newest first (index; rebuilt when missing or damaged),
  `load(ref)`, `resolve(ref)` (id, unambiguous prefix, `latest`, `best`), `folder(id)`,
  `model_path(ref)`, `run_of_model(path)`, `star(ref, on)`, `remove(refs) -> bytes`,
  `prune(keep, older_than_days) -> Removal`, `prune_plan(...)`, `retention_policy()`,
  `apply_retention(policy=None) -> Removal`. `RunNotFound` (a MarqueeError) for bad refs.
- `RunWriter.start(config, dataset, origin=, parent=, load_options=)`, `.on_event` (a
  training event sink), `.recording()` (records a stop or failure), `.finish(result)`
  (model and record written durably, then retention), `.fail(exc)`; `fan_out(*sinks)`.
- `RetentionPolicy` (enabled, keep_last=30, keep_best_per_dataset, max_disk_gb=20;
  `load(root)`/`save(root)`), `compare_runs(records) -> RunComparison`.
- `core.runs.trackers`: TensorBoard and MLflow as event sinks (optional extras).

Layout: `<runs folder>/<id>/record.json` (+ `images.json`, `model.safetensors`) and
`<runs folder>/index.json`; ids are `YYYYMMDD-HHMMSS-xxxx` (local time, sortable);
folders of the layout before records (`YYYYMMDD-HHMMSS-<backbone>`) are adopted as runs.
"""

from core.runs.compare import DataChange, RunComparison, compare_runs
from core.runs.record import STATUSES, DataIdentity, EpochRecord, RunRecord, RunSummary
from core.runs.retention import RetentionPolicy
from core.runs.store import Removal, RunNotFound, RunStore, format_bytes
from core.runs.writer import RunWriter, after_model_saved, fan_out

__all__ = [
    "STATUSES",
    "DataChange",
    "DataIdentity",
    "EpochRecord",
    "Removal",
    "RetentionPolicy",
    "RunComparison",
    "RunNotFound",
    "RunRecord",
    "RunStore",
    "RunSummary",
    "RunWriter",
    "after_model_saved",
    "compare_runs",
    "fan_out",
    "format_bytes",
]
