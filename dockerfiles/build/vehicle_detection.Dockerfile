# Stand-in in the shape of Dayu's build/vehicle_detection.Dockerfile (a busybox payload, not Dayu's code).
# TAG selects the JetPack variant of dayubase (latest, latest-jp4/-jp5/-jp6).
ARG REG=docker.io
ARG BASE_REPO=dayuhub
ARG TAG=latest
FROM ${REG}/${BASE_REPO}/dayubase:${TAG}

ARG lib_dir=dependency/core/lib
ARG code_dir=components/processor
ARG app_dir=dependency/core/applications/vehicle_detection

COPY ${lib_dir} /home/dependency/core/lib
COPY ${app_dir} /home/dependency/core/applications/vehicle_detection
COPY ${code_dir}/* /opt/dayu/vehicle-detection/
RUN echo "vehicle-detection built on $(uname -m)" > /opt/dayu/vehicle-detection/BUILD_INFO
CMD ["/bin/sh", "/opt/dayu/vehicle-detection/start.sh"]
