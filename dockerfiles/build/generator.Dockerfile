# Stand-in in the shape of Dayu's build/generator.Dockerfile (a busybox payload, not Dayu's code).
ARG REG=docker.io
FROM ${REG}/dayuhub/dayubase:latest

ARG lib_dir=dependency/core/lib
ARG code_dir=components/generator
COPY ${lib_dir} /home/dependency/core/lib
COPY ${code_dir}/ /opt/dayu/generator/
RUN echo "generator built on $(uname -m)" > /opt/dayu/generator/BUILD_INFO
CMD ["/bin/sh", "/opt/dayu/generator/start.sh"]
