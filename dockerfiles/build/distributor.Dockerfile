# Stand-in in the shape of Dayu's build/distributor.Dockerfile (a busybox payload, not Dayu's code).
ARG REG=docker.io
FROM ${REG}/dayuhub/dayubase:latest

ARG lib_dir=dependency/core/lib
ARG code_dir=components/distributor
COPY ${lib_dir} /home/dependency/core/lib
COPY ${code_dir}/ /opt/dayu/distributor/
RUN echo "distributor built on $(uname -m)" > /opt/dayu/distributor/BUILD_INFO
CMD ["/bin/sh", "/opt/dayu/distributor/start.sh"]
