# Stand-in in the shape of Dayu's build/dayubase_amd64.Dockerfile: the cloud (TensorRT) base.
ARG REG=docker.io
FROM ${REG}/dayuhub/tensorrt:trt8
RUN mkdir -p /opt/dayu && echo "dayubase amd64 on $(uname -m)" > /opt/dayu/base
ENV DAYU_BASE=tensorrt
