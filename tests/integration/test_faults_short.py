"""Short versions of ``make chaos``'s broker and network scenarios, run by ``make test``.

The same runs as test_fault_matrix.py (fault_runs.py) with the same checks: every violation
``lastmile detect`` finds is on ``violations.v1`` exactly once, the Redis read model and
``lastmile_violations_total`` equal the log, and ``/healthz`` named the fault while it
lasted. Shorter: 300 parcels instead of 600-900 and the link mended as soon as the cut-off
worker has exited instead of after 45 s.

- the broker killed (SIGKILL) mid-stream and kept down until the worker, past its stall
  timeout, has exited with status 1; restarted; the supervisor restarts the worker. (The
  matrix's SIGTERM case differs only inside the broker; a short test cannot tell them apart.)
- a worker in a network namespace of its own cut off from the broker while another takes
  over its partitions; it exits past its stall timeout and rejoins once the link is mended.

The stall timeout stays 20 s, as in the matrix: with 10 s a worker restarted against a
broker just restarted was judged stalled while the broker recovered (docs/reliability.md).
"""

from __future__ import annotations

import signal

from fault_runs import Size, broker_outage, worker_cut_off

STALL_S = 20
PARCELS = 300
# fault → exit: the first failed probe (5-10 s), the stall timeout, the next probe (≤ 5 s)
# and the stop (~2 s, at most the 5 s grace when the broker is gone): room for a loaded
# machine, yet short of the 55 s and more it took when only the 30 s backstop ended it
EXIT_WITHIN_S = STALL_S + 25


def test_short_broker_kill_past_the_stall_timeout_loses_and_repeats_nothing(own_stack, tmp_path):
    fig = broker_outage(own_stack, tmp_path, signal.SIGKILL, Size(PARCELS, STALL_S, seed=43))
    assert fig.exact, f"not exactly once: {fig}"
    assert fig.restarts >= 1 and fig.exit_codes.split(",")[0] == "1", fig
    assert fig.exited_s is not None and fig.exited_s < EXIT_WITHIN_S, fig


def test_short_worker_cut_off_hands_over_and_rejoins_losing_nothing(cut_off_stack, tmp_path):
    stack, ns, ns_bootstrap = cut_off_stack
    size = Size(PARCELS, STALL_S, seed=53)
    fig, outside_restarts = worker_cut_off(stack, ns, ns_bootstrap, tmp_path, size, cut_s=0)
    assert fig.exact, f"not exactly once: {fig}"
    assert outside_restarts == 0, "the worker that kept its link never had to restart"
    assert fig.exited_s is not None and fig.exited_s < EXIT_WITHIN_S, fig
