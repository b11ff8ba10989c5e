#!/usr/bin/env node
// Build the prebuilt JupyterLab extension into ../../hdnotebook/labextension.
//
// This is what `jupyter labextension build .` does, without needing Python: @jupyterlab/builder
// wants a "core path", a folder whose package.json lists JupyterLab's shared packages. We take it
// from the installed Python jupyterlab (its staging/package.json) when a Python with jupyterlab is
// found (HDNOTEBOOK_PYTHON, ../../.venv/bin/python, python3), else from the npm package
// @jupyterlab/core-meta (a devDependency), so the build also works before `pip install`.
'use strict';
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

function labStagingFromPython() {
  const candidates = [process.env.HDNOTEBOOK_PYTHON, path.resolve(__dirname, '../../.venv/bin/python'), 'python3'];
  for (const py of candidates) {
    if (!py) continue;
    try {
      const out = execFileSync(py, ['-c', 'import jupyterlab, os; print(os.path.join(os.path.dirname(jupyterlab.__file__), "staging"))'],
        { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
      if (out && fs.existsSync(path.join(out, 'package.json'))) return out;
    } catch (e) { /* try the next one */ }
  }
  return null;
}

function corePathFromCoreMeta() {
  const file = require.resolve('@jupyterlab/core-meta/core.package.json');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hdnotebook-core-'));
  fs.copyFileSync(file, path.join(dir, 'package.json'));
  return dir;
}

const corePath = process.env.HDNOTEBOOK_LAB_CORE_PATH || labStagingFromPython() || corePathFromCoreMeta();
const builder = require.resolve('@jupyterlab/builder/lib/build-labextension.js');
const args = [builder, '--core-path', corePath, __dirname, ...process.argv.slice(2)];
console.log(`[hdnotebook-sidebar] building with core path ${corePath}`);
execFileSync(process.execPath, args, { stdio: 'inherit' });
