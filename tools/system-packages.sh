#!/usr/bin/env bash
# System packages the course needs beyond Python, installed where this machine allows it.
#
#   tools/system-packages.sh grade   bubblewrap (the grading sandbox)         make grade
#   tools/system-packages.sh test    bubblewrap and chromium (browser test)   make test
#
# `make lab` never calls this: a student's lab needs no system package.
# As root, or with passwordless sudo, it installs what is missing with apt-get (Debian,
# Ubuntu) or dnf (Fedora); otherwise it prints the one command that would, and carries on:
# the tests that need the package then say at the end of the run that they were not run,
# and `make grade` refuses to grade without the sandbox (autograde/README.md, "Sandbox").
set -u
purpose=${1:-test}

want=()
command -v bwrap >/dev/null 2>&1 || want+=(bubblewrap)
if [ "$purpose" = test ]; then
  command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 \
    || want+=(chromium)
fi
[ ${#want[@]} -eq 0 ] && exit 0

if [ "$(uname -s)" != Linux ]; then
  echo "note: ${want[*]} not installed; the grading sandbox needs Linux (bubblewrap)." >&2
  exit 0
fi

sudo=()
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo=(sudo -n)
  else
    sudo=(NONE)
  fi
fi

if command -v apt-get >/dev/null 2>&1; then
  manager=apt-get
  cmd="apt-get install -y ${want[*]}"
elif command -v dnf >/dev/null 2>&1; then
  manager=dnf
  cmd="dnf install -y ${want[*]/chromium/chromium-headless}"
else
  echo "note: install ${want[*]} with your system's package manager" \
       "(no apt-get or dnf found)." >&2
  exit 0
fi

if [ "${sudo[*]}" = NONE ]; then
  echo "note: ${want[*]} missing and this user cannot install system packages; run:" >&2
  echo "    sudo $cmd" >&2
  exit 0
fi

echo "installing system packages: ${want[*]} (${manager})"
if [ $manager = apt-get ]; then
  # A fresh machine has no package lists yet: update once, then install.
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get install -y -qq "${want[@]}" >/dev/null 2>&1 \
    || { "${sudo[@]}" apt-get update -qq >/dev/null 2>&1 \
         && "${sudo[@]}" apt-get install -y -qq "${want[@]}" >/dev/null 2>&1; } \
    || echo "note: '$cmd' failed; the tests that need ${want[*]} will say so." >&2
else
  # shellcheck disable=SC2086
  "${sudo[@]}" $cmd >/dev/null 2>&1 \
    || echo "note: '$cmd' failed; the tests that need ${want[*]} will say so." >&2
fi
exit 0
