# Stand-in in the shape of Dayu's build/scheduler.Dockerfile (a busybox payload, not Dayu's code).
ARG REG=docker.io
FROM ${REG}/dayuhub/dayubase:latest

ARG lib_dir=dependency/core/lib
ARG code_dir=components/scheduler
COPY ${lib_dir} /home/dependency/core/lib
COPY ${code_dir}/ /opt/dayu/scheduler/
RUN echo "scheduler built on $(uname -m)" > /opt/dayu/scheduler/BUILD_INFO
CMD ["/bin/sh", "/opt/dayu/scheduler/start.sh"]
