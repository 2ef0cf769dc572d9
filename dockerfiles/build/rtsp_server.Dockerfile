# Stand-in in the shape of Dayu's rtsp-server image: it picks a prebuilt binary by TARGETPLATFORM.
ARG REG=docker.io
FROM ${REG}/dayuhub/dayubase:latest
ARG TARGETPLATFORM
ARG bin_dir=tools/rtsp-server/bin
COPY ${bin_dir}/ /tmp/rtsp/
RUN case "${TARGETPLATFORM}" in \
      linux/amd64) cp /tmp/rtsp/rtsp-server-amd64 /usr/local/bin/rtsp-server ;; \
      linux/arm64) cp /tmp/rtsp/rtsp-server-arm64 /usr/local/bin/rtsp-server ;; \
      *) echo "rtsp-server: no binary for ${TARGETPLATFORM}" >&2; exit 1 ;; \
    esac && chmod +x /usr/local/bin/rtsp-server && rm -rf /tmp/rtsp
EXPOSE 8554
CMD ["/usr/local/bin/rtsp-server"]
