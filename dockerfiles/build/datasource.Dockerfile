# Stand-in for Dayu's datasource, kept in the Atom-style convention on purpose: the base (rtsp-server,
# declared in estate.yaml) arrives pinned by digest in the build arg BASE_IMAGE. The default only keeps
# BuildKit's InvalidDefaultArgInFrom check quiet (an ARG used in FROM needs a valid default); the estate
# always passes the pinned base.
ARG BASE_IMAGE=docker.io/dayuhub/rtsp-server:latest
FROM ${BASE_IMAGE}
ARG code_dir=datasource
COPY ${code_dir}/ /opt/dayu/datasource/
RUN echo "datasource built on $(uname -m)" > /opt/dayu/datasource/BUILD_INFO
CMD ["/bin/sh", "/opt/dayu/datasource/start.sh"]
