"""Report of a sweep: ``python -m experiments.report <sweep dir> [<sweep dir> ...] [--out DIR]``.

Reads every job under the directories (``result.json`` + ``episodes.jsonl``) and writes, into
``<first dir>/report`` unless ``--out`` says otherwise:

* ``report.md`` - every table and figure below, with n (seeds, tasks) stated;
* ``tables/*.{md,tex,csv}`` - success by phase with t intervals over seeds (the analogue of the
  ARISE paper's Tables 2-4) and paired comparisons against the baseline: seed-level (t test and
  exact sign-flip over per-seed differences, Holm; seeds in general) and task-level (permutation,
  Holm, McNemar; these worlds only), each row saying which question it answers,
  the side-by-side with the published numbers (simulated rows marked), the error taxonomy of
  failures (Table 5), cost and time (Table 6), tool quality, pass^k, the protocol comparison with
  the null-policy scores, and ablations against the default pipeline when the sweep has them;
* ``figures/*.{png,pdf}`` - per-phase bars with CIs, learning curves with bands and the phase
  boundaries of the actual task stream, library growth, tools vs success, error taxonomy.

Everything is recomputed from the raw records; nothing is typed in by hand but the published
numbers (experiments/published.py).

Modules: ``jobs`` (loading), ``arms`` (rows, their order, success intervals), ``table`` (one
table's renderings), ``tables`` (the paper's tables), ``figures``, ``genesis`` (the Tool-Genesis
section), ``build`` (``build_report``: report.md) and ``cli`` (``main``). This file imports none
of them, so a module can be used without loading the rest.
"""
