# The hgdiag agent's image, after the runbook's golden pattern: a builder stage with the
# toolchain, a runtime stage with no shell, no package manager and no compiler, only the
# build artifacts and the shared libraries they load. `make image` builds it with buildah
# (no Docker engine, no registry): see image/build.sh.
#
# Base images, pinned by digest:
# - builder: BUILDER_BASE is a Debian bookworm root filesystem that image/build.sh makes
#   from Debian's packages with mmdebstrap and imports into its own buildah store. No
#   registry serves it, so its digest exists only once it is imported: build.sh passes
#   the reference as localhost/hgdiag-builder-base@sha256:<that digest> and refuses to
#   build from a reference without one; the digest is printed and kept in
#   build/image/builder-base.digest. A base made again (new packages in the archive) has
#   a new digest: a pin records what this build used, it cannot be copied from a registry.
# - runtime: scratch (no base at all, nothing to pin).
ARG BUILDER_BASE
FROM ${BUILDER_BASE} AS builder
ARG VERSION=0.1.0
# The chart's capability list (values.yaml `capabilities`), as setcap spells it.
ARG AGENT_CAPS
WORKDIR /src
# .dockerignore keeps build trees, git metadata and editor files out of the context.
COPY . .
# One RUN, one layer: build, install under /out/app, collect exactly the shared libraries
# the two binaries load (ldd), and give the agent its file capabilities (see USER below).
RUN make -j2 BUILD=/tmp/build VERSION="${VERSION}" all \
 && make BUILD=/tmp/build PREFIX=/app DESTDIR=/out install \
 && image/runtime-libs.sh /out /out/app/bin/hgdiag-agent /out/app/bin/hgdiag \
 && test -n "${AGENT_CAPS}" && setcap "${AGENT_CAPS}+p" /out/app/bin/hgdiag-agent \
 && install -d -m 0755 /out/etc \
 && printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >/out/etc/passwd \
 && printf 'root:x:0:\nnonroot:x:65532:\n' >/out/etc/group

FROM scratch
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="hgdiag-agent" \
      org.opencontainers.image.description="hgdiag node agent: eBPF diagnosis of hardened containers' sandbox denials" \
      org.opencontainers.image.version="${VERSION}"
# /app/bin/hgdiag-agent, /app/bin/hgdiag (+ kubectl-hgdiag), /app/share/hgdiag/seccomp-default.json
# (the agent finds it beside its binary), the libraries under /usr/lib/x86_64-linux-gnu and
# the loader at /lib64, /etc/passwd and /etc/group naming uid 65532.
COPY --from=builder /out/ /
WORKDIR /app
# What the agent needs, and why it is not uid 0:
# - CAP_BPF + CAP_PERFMON: load the eBPF programs and attach them to tracepoints
#   (the kernel checks capabilities, not the uid);
# - CAP_SYS_PTRACE: read /proc/<pid>/root and /proc/<pid>/exe of other users' processes
#   (ptrace_may_access), to look at a container's files when advising;
# - CAP_DAC_READ_SEARCH: read those files whatever their modes;
# - CAP_AUDIT_READ: join the audit netlink multicast group (AppArmor refusals).
# A non-root process gets no capabilities at exec from Kubernetes' capabilities.add alone
# (no ambient set), so the binary carries them as file capabilities (setcap above),
# permitted only: with the effective bit set, a container granting fewer of them than the
# file lists could not exec it at all (the kernel refuses a capability-dumb binary with
# EPERM); without it the agent starts, raises its permitted set into its effective set
# itself and says what it lacks. Under
# allowPrivilegeEscalation: false (no_new_privs) the kernel then grants at most what the
# runtime already put in the permitted set — the chart's capabilities.add — and never
# more. The agent drops all but CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH once attached.
# Reading other processes' /proc entries needs those capabilities, not uid 0 (the test
# tests/image/image_privileges.sh runs this image as 65532 under the chart's context).
USER 65532:65532
EXPOSE 9464
ENTRYPOINT ["/app/bin/hgdiag-agent"]
