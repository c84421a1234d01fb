// The Dockerfile `orrery build` writes next to the executable.

/**
 * A minimal image for the executable `name`: debian-slim (the node binary
 * needs glibc and libstdc++), a non-root user, PGlite's data in a volume
 * unless DATABASE_URL is set.
 */
export function dockerfile(name: string): string {
  return `# Written by orrery build. Build the image from this folder:
#   docker build -t ${name} .
#   docker run -p 8080:8080 ${name}                        # PGlite in /data
#   docker run -p 8080:8080 -e DATABASE_URL=postgres://… ${name}
FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --home-dir /data --create-home orrery
COPY --chmod=0755 ${name} /usr/local/bin/${name}
USER orrery
WORKDIR /data
ENV PORT=8080 HOST=0.0.0.0 ORRERY_DATA_DIR=/data/pglite
VOLUME /data
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/${name}"]
`;
}
