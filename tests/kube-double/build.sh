#!/usr/bin/env bash
# Builds the API server double into $BUILD/kube-double with the project's flags.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
mkdir -p "$BUILD"
${CC:-cc} -O1 -g -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -Itests/kube-double \
  $(pkg-config --cflags jansson libmicrohttpd libcurl) \
  tests/kube-double/kube-double.c tests/kube-double/main.c \
  $(pkg-config --libs jansson libmicrohttpd libcurl) -lpthread -o "$BUILD/kube-double"
