"""``Model`` (``azureml.core.model``): a model registry in the workspace folder.

Each registration copies the file or folder into ``<workspace>/models/<name>/<version>/`` and
records it in ``<workspace>/models/<name>/<version>.json``; versions count up from 1 per name.

>>> model = best_run.register_model("sklearn-iris", model_path="outputs/model.joblib")  # doctest: +SKIP
>>> Model(ws, "sklearn-iris").version                                                  # doctest: +SKIP
1
>>> path = Model.get_model_path("sklearn-iris", _workspace=ws)                        # doctest: +SKIP
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
from typing import Any

from ..exceptions import ModelNotFoundException, WebserviceException

__all__ = ["Model"]

MODELS_DIR = "models"


def _models_root(workspace: Any) -> str:
    return os.path.join(workspace.path, MODELS_DIR)


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name or len(name) > 255 or not (name[0].isalnum()) or any(
            not (c.isalnum() or c in "-_.") for c in name):
        raise WebserviceException(
            f"model_name must start with a letter or digit and hold only letters, digits, '-', '_' and '.', "
            f"at most 255 characters; got {name!r}")
    return name


def _filter(values: dict[str, Any], wanted: Any) -> bool:
    for item in wanted or []:
        if isinstance(item, (list, tuple)):
            if values.get(item[0]) != item[1]:
                return False
        elif item not in values:
            return False
    return True


class Model:
    """A registered model version.

    ``Model(ws, name)`` is the latest version of ``name`` (``version=`` for another);
    ``Model(ws, id="name:3")`` by id.
    """

    class Framework:
        CUSTOM = "Custom"
        MULTI = "Multi"
        ONNX = "Onnx"
        SCIKITLEARN = "ScikitLearn"
        TENSORFLOW = "TensorFlow"
        PYTORCH = "PyTorch"

    def __init__(self, workspace: Any, name: str | None = None, id: str | None = None, tags: Any = None,
                 properties: Any = None, version: int | None = None, run_id: str | None = None,
                 model_framework: str | None = None, expand: bool = True, **kwargs: Any) -> None:
        record = kwargs.get("_record")
        if record is None:
            if id is not None:
                name, _, text = id.partition(":")
                version = int(text) if text.isdigit() else version
            if name is None:
                raise WebserviceException("Model(workspace, name=None, id=None): give a name or an id")
            found = [m for m in Model.list(workspace, name=name, tags=tags, properties=properties, run_id=run_id,
                                           model_framework=model_framework)
                     if version is None or m.version == version]
            if not found:
                known = sorted(f"{m.name}:{m.version}" for m in Model.list(workspace))
                raise ModelNotFoundException(
                    f"ModelNotFound: no model {name!r}" + (f" version {version}" if version is not None else "")
                    + f" in workspace {workspace.path}; registered: {', '.join(known) or 'none'}")
            record = max(found, key=lambda m: m.version)._record
        self.workspace = workspace
        self._record = dict(record)
        self.name: str = record["name"]
        self.version: int = int(record["version"])
        self.id = f"{self.name}:{self.version}"
        self.tags: dict[str, Any] = dict(record.get("tags") or {})
        self.properties: dict[str, Any] = dict(record.get("properties") or {})
        self.description: str | None = record.get("description")
        self.model_framework: str | None = record.get("framework")
        self.model_framework_version: str | None = record.get("frameworkVersion")
        self.run_id: str | None = record.get("runId")
        self.experiment_name: str | None = record.get("experimentName")
        self.created_time = _dt.datetime.fromtimestamp(record.get("createdTime", 0), tz=_dt.timezone.utc)
        self.created_by = record.get("createdBy")
        self.mime_type = "application/octet-stream"
        self.unpack = False
        self.url = f"file://{self._path}"
        self.datasets: dict[str, Any] = {}

    # -- where it is -----------------------------------------------------------------------------
    @property
    def _folder(self) -> str:
        return os.path.join(_models_root(self.workspace), self.name, str(self.version))

    @property
    def _path(self) -> str:
        """The registered file or folder."""
        return os.path.join(self._folder, self._record["asset"])

    @property
    def run(self) -> Any:
        """The run the model was registered from, or ``None``."""
        if not self.run_id or not self.experiment_name:
            return None
        from .experiment import Experiment
        from .run import Run

        return Run(Experiment(self.workspace, self.experiment_name), self.run_id)

    # -- registering -----------------------------------------------------------------------------
    @staticmethod
    def register(workspace: Any, model_path: str, model_name: str, tags: dict[str, Any] | None = None,
                 properties: dict[str, Any] | None = None, description: str | None = None, datasets: Any = None,
                 model_framework: str | None = None, model_framework_version: str | None = None,
                 child_paths: Any = None, sample_input_dataset: Any = None, sample_output_dataset: Any = None,
                 resource_configuration: Any = None) -> Model:
        """Register a local file or folder as the next version of ``model_name``."""
        if not os.path.exists(model_path):
            raise WebserviceException(f"Model.register: no file or folder at model_path={model_path!r}")
        return Model._register(workspace, model_path, model_name, tags=tags, properties=properties,
                               description=description, model_framework=model_framework,
                               model_framework_version=model_framework_version)

    @staticmethod
    def _register(workspace: Any, source: str, model_name: str, *, tags: Any = None, properties: Any = None,
                  description: str | None = None, model_framework: str | None = None,
                  model_framework_version: str | None = None, run_id: str | None = None,
                  experiment_name: str | None = None) -> Model:
        _check_name(model_name)
        root = os.path.join(_models_root(workspace), model_name)
        os.makedirs(root, exist_ok=True)
        version = 1 + max((int(v) for v in os.listdir(root) if v.isdigit()), default=0)
        while True:  # mkdir is the lock: two registrations never get the same version
            try:
                os.mkdir(os.path.join(root, str(version)))
                break
            except FileExistsError:
                version += 1
        folder = os.path.join(root, str(version))
        asset = os.path.basename(os.path.normpath(source))
        if os.path.isdir(source):
            shutil.copytree(source, os.path.join(folder, asset))
        else:
            shutil.copyfile(source, os.path.join(folder, asset))
        record = {
            "name": model_name, "version": version, "asset": asset, "tags": dict(tags or {}),
            "properties": dict(properties or {}), "description": description, "framework": model_framework or
            Model.Framework.CUSTOM, "frameworkVersion": model_framework_version, "runId": run_id,
            "experimentName": experiment_name, "createdTime": _dt.datetime.now(_dt.timezone.utc).timestamp(),
            "createdBy": os.environ.get("USER", "local"),
        }
        with open(f"{folder}.json", "w", encoding="utf-8") as fh:
            json.dump(record, fh)
        return Model(workspace, _record=record)

    # -- finding ---------------------------------------------------------------------------------
    @staticmethod
    def list(workspace: Any, name: str | None = None, tags: Any = None, properties: Any = None,
             run_id: str | None = None, latest: bool = False, dataset_id: str | None = None, expand: bool = True,
             page_count: int = 255, model_framework: str | None = None) -> list[Model]:
        """Registered model versions, filtered like the SDK (``latest=True``: one per name)."""
        root = _models_root(workspace)
        found: list[Model] = []
        names = [name] if name is not None else (sorted(os.listdir(root)) if os.path.isdir(root) else [])
        for model_name in names:
            folder = os.path.join(root, model_name)
            if not os.path.isdir(folder):
                continue
            for version in os.listdir(folder):
                if version.endswith(".json"):
                    continue
                path = os.path.join(folder, f"{version}.json")
                if not (version.isdigit() and os.path.isfile(path)):
                    continue
                with open(path, encoding="utf-8") as fh:
                    model = Model(workspace, _record=json.load(fh))
                if (run_id is None or model.run_id == run_id) and _filter(model.tags, tags) \
                        and _filter(model.properties, properties) \
                        and (model_framework is None or model.model_framework == model_framework):
                    found.append(model)
        found.sort(key=lambda m: (m.name, m.version))
        if latest:
            newest: dict[str, Model] = {}
            for model in found:
                newest[model.name] = model
            found = list(newest.values())
        return found

    @staticmethod
    def get_model_path(model_name: str, version: int | None = None, _workspace: Any = None) -> str:
        """The registered file or folder of ``model_name`` (latest version unless ``version``)."""
        if _workspace is None:
            from .workspace import Workspace

            _workspace = Workspace.from_config()
        return Model(_workspace, model_name, version=version)._path

    def download(self, target_dir: str = ".", exist_ok: bool = False, exists_ok: bool | None = None) -> str:
        """Copy the model into ``target_dir``; returns the path of the copy."""
        exist_ok = exist_ok or bool(exists_ok)
        target = os.path.join(target_dir, self._record["asset"])
        if os.path.exists(target) and not exist_ok:
            raise WebserviceException(f"Model.download: {target} exists; pass exist_ok=True to replace it")
        os.makedirs(target_dir, exist_ok=True)
        if os.path.isdir(self._path):
            shutil.copytree(self._path, target, dirs_exist_ok=True)
        else:
            shutil.copyfile(self._path, target)
        return target

    # -- changing --------------------------------------------------------------------------------
    def _save(self) -> None:
        self._record.update(tags=self.tags, properties=self.properties, description=self.description)
        with open(f"{self._folder}.json", "w", encoding="utf-8") as fh:
            json.dump(self._record, fh)

    def add_tags(self, tags: dict[str, Any]) -> None:
        self.tags.update(tags)
        self._save()

    def remove_tags(self, tags: list[str]) -> None:
        for key in tags:
            self.tags.pop(key, None)
        self._save()

    def add_properties(self, properties: dict[str, Any]) -> None:
        self.properties.update(properties)
        self._save()

    def update(self, tags: dict[str, Any] | None = None, description: str | None = None, **kwargs: Any) -> None:
        if tags is not None:
            self.tags = dict(tags)
        if description is not None:
            self.description = description
        self._save()

    def delete(self) -> None:
        os.remove(f"{self._folder}.json")
        shutil.rmtree(self._folder)

    def serialize(self) -> dict[str, Any]:
        return {"createdTime": self.created_time.isoformat(), "createdBy": self.created_by,
                "description": self.description, "id": self.id, "mimeType": self.mime_type, "name": self.name,
                "framework": self.model_framework, "frameworkVersion": self.model_framework_version,
                "tags": self.tags, "properties": self.properties, "unpack": self.unpack, "url": self.url,
                "version": self.version, "experimentName": self.experiment_name, "runId": self.run_id,
                "runDetails": str(self.run_id), "datasets": [], "resourceConfiguration": None,
                "sampleInputDatasetId": None, "sampleOutputDatasetId": None}

    @staticmethod
    def deploy(*args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(
            "Model.deploy: deployment (ACI, AKS, managed endpoints) is out of scope for hdnotebook.azureml; "
            "load the registered file with Model.get_model_path(name, _workspace=ws) instead")

    package = profile = deploy

    def __repr__(self) -> str:
        return (f"Model(workspace={getattr(self.workspace, 'name', self.workspace)}, name={self.name}, id={self.id}, "
                f"version={self.version}, tags={self.tags}, properties={self.properties})")
