#!/usr/bin/env bash
# Refreshes the browser assets riskgraph serves from its binary: installs the
# versions pinned in package-lock.json and copies their built files (and
# licenses) into dist/, which is committed so that building riskgraph needs
# neither Node nor a network. Bump a version in package.json, run this, commit.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --silent
rm -rf dist && mkdir dist
cp node_modules/graphiql/graphiql.min.js node_modules/graphiql/graphiql.min.css dist/
cp node_modules/react/umd/react.production.min.js node_modules/react-dom/umd/react-dom.production.min.js dist/
# Their source maps are not shipped: no request for them should 404.
sed -i "/sourceMappingURL/d" dist/*.js
for package in graphiql react react-dom; do
  cp "node_modules/$package/LICENSE" "dist/LICENSE.$package"
done
rm -rf node_modules
