# Stand-in in the shape of Dayu's build/frontend.Dockerfile: on the node mirror, not on dayubase.
ARG REG=docker.io
FROM ${REG}/node:20
ARG code_dir=frontend
COPY ${code_dir}/ /opt/dayu/frontend/
RUN echo "frontend built on $(uname -m)" > /opt/dayu/frontend/BUILD_INFO
CMD ["/bin/sh", "/opt/dayu/frontend/start.sh"]
