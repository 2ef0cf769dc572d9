# Stand-in in the shape of Dayu's build/dayubase_jp5.Dockerfile: the JetPack 5 Jetson base.
ARG REG=docker.io
FROM ${REG}/ultralytics/ultralytics:latest-jetson-jetpack5
SHELL ["/bin/sh", "-c"]
RUN mkdir -p /opt/dayu && echo "dayubase jetson jetpack5 on $(uname -m)" > /opt/dayu/base
ENV DAYU_BASE=jetson JETPACK=5
