"""The gunicorn worker the server runs: gthread, with stop signals that cannot hang it.

gunicorn's own gthread worker treats SIGINT like SIGQUIT and, from inside the signal handler,
shuts its thread pool down and calls sys.exit(). A terminal's Ctrl-C reaches every process of
the foreground group, so a worker gets SIGINT from the terminal and SIGQUIT from the arbiter
moments apart; the second handler can interrupt the first while it holds the pool's lock, and
the worker hangs until the arbiter kills it 30 seconds later.
"""

import os
import signal

from gunicorn.workers.gthread import ThreadWorker as GThreadWorker


class ThreadWorker(GThreadWorker):
    def init_signals(self):
        super().init_signals()
        # The arbiter decides how workers stop; the terminal's SIGINT is its business.
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    def handle_quit(self, sig, frame):
        # Quick shutdown means now: exit without touching locks a request thread may hold.
        os._exit(0)
