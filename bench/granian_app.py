"""The sandbox as an importable WSGI app, for servers that load one by module path (granian).

    granian --interface wsgi --working-dir bench --port 8080 granian_app:app

Settings come from the FLEXPRICE_MOCK_* variables, as for `flexprice-mock`; the log and the
garbage collector are set up as `flexprice-mock` sets them, so only the HTTP server differs.
"""

from mockserver import Settings, create_app
from mockserver.http import logs
from mockserver.http.server import tune_garbage_collector

logs.configure()
app = create_app(Settings.from_env())
tune_garbage_collector()
