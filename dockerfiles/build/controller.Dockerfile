# Stand-in in the shape of Dayu's build/controller.Dockerfile (a busybox payload, not Dayu's code).
ARG REG=docker.io
ARG BASE_REPO=dayuhub
ARG TAG=latest
FROM ${REG}/${BASE_REPO}/dayubase:${TAG}

ARG lib_dir=dependency/core/lib
ARG code_dir=components/controller
COPY ${lib_dir} /home/dependency/core/lib
COPY ${code_dir}/ /opt/dayu/controller/
RUN echo "controller built on $(uname -m)" > /opt/dayu/controller/BUILD_INFO
CMD ["/bin/sh", "/opt/dayu/controller/start.sh"]
