#!/usr/bin/env bash
# The route suite with one FastCGI connection per request (nginx's
# fastcgi_keep_conn off, no upstream keepalive): the other supported mode.
export STACK_KEEPALIVE=0 IT_NAME=test_routes_keepalive_off
exec bash "$(dirname "$0")/test_routes.sh"
