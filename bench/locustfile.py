"""Locust load for fcgi_app through nginx: every route of the demo.

Headless, against a running stack (`make run` listens on 127.0.0.1:8000):

    locust -f bench/locustfile.py --headless -u 50 -r 10 -t 30s --host http://127.0.0.1:8000

- DemoUser: /coro, /error (400 is the expected answer), /sleep/1,
  /async/coro, an unknown path (404 expected);
- SimpleUser: a /simple that stays pending until the next fire, with a
  client timeout so it can never hang the run, and the exact FIRE! body;
- FireUser: one /simple/fire about every second, which completes every
  pending /simple.

A failure is a wrong status or a wrong body; a /sleep/1 that finds the worker
pool's queue full gets 503 with Retry-After, counted as a failure too.
"""
from locust import HttpUser, between, constant, task

CORO = "<html><body><strong><i>This is a coroutine-like function!</i></strong></body></html>"
FIRED = "<u><i>This is a simple callback...FIRE!</i></u>"
FIRE_OK = 'Look at the <a href="/simple">/simple</a> request tab.'
NOT_SET = "The callback has already been fired or not set!"
ERROR_PREFIX = "<strong>Uh oh spaghetti-Os!<br><br>ERROR: [Failure instance:"


def expect(resp, status, check):
    if resp.status_code != status:
        resp.failure(f"status {resp.status_code}, expected {status}")
    elif not check(resp.text):
        resp.failure(f"unexpected body: {resp.text[:80]!r}")
    else:
        resp.success()


class DemoUser(HttpUser):
    weight = 6
    wait_time = between(0.05, 0.2)

    @task(10)
    def coro(self):
        with self.client.get("/coro", catch_response=True) as r:
            expect(r, 200, lambda t: t == CORO)

    @task(3)
    def async_coro(self):
        with self.client.get("/async/coro", name="/async/coro", catch_response=True) as r:
            expect(r, 200, lambda t: t == CORO)

    @task(3)
    def error(self):
        with self.client.get("/error", catch_response=True) as r:
            expect(r, 400, lambda t: t.startswith(ERROR_PREFIX))

    @task(2)
    def sleep(self):
        with self.client.get("/sleep/1", catch_response=True, timeout=30) as r:
            expect(r, 200, lambda t: t == "Slept for 1 seconds")

    @task(1)
    def not_found(self):
        with self.client.get("/no/such/route", name="/[404]", catch_response=True) as r:
            if r.status_code == 404:
                r.success()
            else:
                r.failure(f"status {r.status_code}, expected 404")


class SimpleUser(HttpUser):
    weight = 3
    wait_time = between(0.1, 0.5)

    @task
    def simple(self):
        # Pending until FireUser's next fire (about 1 s); the timeout bounds
        # it if no FireUser runs.
        with self.client.get("/simple", catch_response=True, timeout=15) as r:
            expect(r, 200, lambda t: t == FIRED)


class FireUser(HttpUser):
    weight = 1
    fixed_count = 1
    wait_time = constant(1)

    @task
    def fire(self):
        with self.client.get("/simple/fire", catch_response=True) as r:
            # Either it fired something, or nothing was pending.
            expect(r, 200, lambda t: t == FIRE_OK or t.startswith(NOT_SET))
