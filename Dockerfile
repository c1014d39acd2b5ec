# The image every Airflow service of docker-compose.yaml runs (and what Astronomer builds):
# the official Airflow 3.3.2 image on Python 3.11 plus mrm (distribution mrm-airflow: `mrm` on PyPI
# is an unrelated project) and its pinned dependencies.
# Not _PIP_ADDITIONAL_REQUIREMENTS: that reinstalls at every container start.
FROM apache/airflow:3.3.2-python3.11

COPY --chown=airflow:root requirements.txt constraints.txt pyproject.toml README.md /opt/mrm/
COPY --chown=airflow:root include /opt/mrm/include
RUN pip install --no-cache-dir -r /opt/mrm/requirements.txt -c /opt/mrm/constraints.txt \
 && pip install --no-cache-dir --no-deps /opt/mrm

# dags/ and plugins/ come from the image's folders or from the mounts in docker-compose.yaml;
# the inventory is read from MRM_INVENTORY (include/inventory, mounted or baked in here).
COPY --chown=airflow:root dags /opt/airflow/dags
COPY --chown=airflow:root plugins /opt/airflow/plugins
ENV MRM_INVENTORY=/opt/mrm/include/inventory

# Start-up refuses a missing secret or the placeholder `change-me` (one line), then runs Airflow's own
# entrypoint with the service's command.
COPY --chown=airflow:root deploy/check-secrets.sh /opt/mrm/deploy/check-secrets.sh
ENTRYPOINT ["/usr/bin/dumb-init", "--", "/opt/mrm/deploy/check-secrets.sh", "/entrypoint"]
