# Stand-in in the shape of Dayu's build/dayubase_jp6.Dockerfile: the JetPack 6 Jetson base.
ARG REG=docker.io
FROM ${REG}/ultralytics/ultralytics:latest-jetson-jetpack6
SHELL ["/bin/sh", "-c"]
RUN mkdir -p /opt/dayu && echo "dayubase jetson jetpack6 on $(uname -m)" > /opt/dayu/base
ENV DAYU_BASE=jetson JETPACK=6
