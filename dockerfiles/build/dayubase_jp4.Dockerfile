# Stand-in in the shape of Dayu's build/dayubase_jp4.Dockerfile: the JetPack 4 Jetson base.
ARG REG=docker.io
FROM ${REG}/ultralytics/ultralytics:latest-jetson-jetpack4
SHELL ["/bin/sh", "-c"]
RUN mkdir -p /opt/dayu && echo "dayubase jetson jetpack4 on $(uname -m)" > /opt/dayu/base
ENV DAYU_BASE=jetson JETPACK=4
