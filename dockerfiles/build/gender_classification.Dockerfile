# Stand-in in the shape of Dayu's build/gender_classification.Dockerfile (a busybox payload, not Dayu's code).
# TAG selects the JetPack variant of dayubase (latest, latest-jp4/-jp5/-jp6).
ARG REG=docker.io
ARG BASE_REPO=dayuhub
ARG TAG=latest
FROM ${REG}/${BASE_REPO}/dayubase:${TAG}

ARG lib_dir=dependency/core/lib
ARG code_dir=components/processor
ARG app_dir=dependency/core/applications/gender_classification

COPY ${lib_dir} /home/dependency/core/lib
COPY ${app_dir} /home/dependency/core/applications/gender_classification
COPY ${code_dir}/* /opt/dayu/gender-classification/
RUN echo "gender-classification built on $(uname -m)" > /opt/dayu/gender-classification/BUILD_INFO
CMD ["/bin/sh", "/opt/dayu/gender-classification/start.sh"]
