"""Client scripts run with the brokers' official SDKs against our fake brokers.

Each `<broker>_client.py` here runs under `.venv-sdk/bin/python` (see requirements.txt),
imports only its SDK and the standard library, talks to the fake whose URLs it is given,
and prints one JSON object of what the SDK got back; `tests/test_<broker>_sdk.py` starts the
fake, runs the script with `run_sdk_client` (tests/sdk_runner.py) and checks that JSON.
"""
