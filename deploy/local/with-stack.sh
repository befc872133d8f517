#!/usr/bin/env bash
# with-stack.sh CMD [ARGS...]: start the local stack, run CMD, always stop the stack again,
# and exit with CMD's exit code. Used by `make test` and so by CI (.ci/run).
#   - pytest's exit 5 ("no tests collected") is reported and kept as a failure.
#   - LASTMILE_KEEP_STACK=1 leaves the stack running afterwards (for debugging).
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STACK="$HERE/stack.sh"

if (($# == 0)); then
  echo "usage: $0 CMD [ARGS...]" >&2
  exit 2
fi

stop_stack() {
  if [[ "${LASTMILE_KEEP_STACK:-0}" == 1 ]]; then
    echo "[with-stack] LASTMILE_KEEP_STACK=1: leaving the stack running (make down to stop it)"
  else
    bash "$STACK" down || echo "[with-stack] warning: 'stack.sh down' failed" >&2
  fi
}
trap stop_stack EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if ! bash "$STACK" up; then
  echo "[with-stack] the local stack did not come up; not running: $*" >&2
  echo "[with-stack] logs: ${RUN_DIR:-$(cd "$HERE/../.." && pwd)/run}/logs" >&2
  exit 1
fi

echo "[with-stack] running: $*"
"$@"
rc=$?

is_pytest=0
case "$(basename "$1")" in pytest | py.test | pytest-*) is_pytest=1 ;; esac
[[ " $* " == *" -m pytest "* ]] && is_pytest=1
if ((is_pytest)) && ((rc == 5)); then
  echo "[with-stack] ERROR: pytest collected no tests (exit 5); a test run that runs nothing is a failure." >&2
  echo "[with-stack] check the paths/markers given to pytest and that tests/ contains test_*.py files." >&2
fi
if ((rc != 0)); then
  echo "[with-stack] command failed with exit code $rc: $*" >&2
fi
exit "$rc"
