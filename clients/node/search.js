#!/usr/bin/env node
// Search an omnivec collection from Node.js with @grpc/grpc-js, loading the .proto files at run
// time (no generated code to keep in sync).
//
//   node search.js --collection omnivec-demo "will it be sunny tomorrow?"
//   node search.js --target 127.0.0.1:50051 --collection notes -k 5 --token SECRET "query"
"use strict";

const path = require("path");
const grpc = require("@grpc/grpc-js");
const protoLoader = require("@grpc/proto-loader");

function parseArgs(argv) {
  const args = { target: "127.0.0.1:50051", collection: "", k: 5, token: process.env.OMNIVEC_TOKEN || "", where: "", text: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--target") args.target = argv[++i];
    else if (a === "--collection" || a === "-c") args.collection = argv[++i];
    else if (a === "-k") args.k = parseInt(argv[++i], 10);
    else if (a === "--token") args.token = argv[++i];
    else if (a === "--where") args.where = argv[++i];
    else args.text.push(a);
  }
  if (!args.collection || args.text.length === 0) {
    console.error("usage: node search.js [--target HOST:PORT] --collection NAME [-k N] [--where FILTER] TEXT");
    process.exit(2);
  }
  return args;
}

function loadSearchService() {
  const protoRoot = process.env.OMNIVEC_PROTO_DIR || path.join(__dirname, "..", "..", "proto");
  const definition = protoLoader.loadSync("omnivec/v1/search.proto", {
    includeDirs: [protoRoot],
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  return grpc.loadPackageDefinition(definition).omnivec.v1.SearchService;
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const SearchService = loadSearchService();
  const client = new SearchService(args.target, grpc.credentials.createInsecure());
  const metadata = new grpc.Metadata();
  if (args.token) metadata.add("authorization", `Bearer ${args.token}`);
  const request = { collection: args.collection, text: args.text.join(" "), k: args.k, filter: args.where };
  const deadline = new Date(Date.now() + 60_000);
  client.Search(request, metadata, { deadline }, (err, response) => {
    if (err) {
      console.error(`error: ${grpc.status[err.code]}: ${err.details}`);
      process.exit(1);
    }
    for (const hit of response.hits) {
      const span = hit.span && hit.span.has_time ? ` [${hit.span.start_seconds.toFixed(1)}-${hit.span.end_seconds.toFixed(1)} s]` : "";
      const modality = hit.modality.replace("MODALITY_", "").toLowerCase();
      console.log(`${hit.rank}. ${modality} ${hit.source_uri}${span} (${hit.space} ${hit.score.toFixed(3)})`);
      if (hit.span && hit.span.text) console.log(`   ${hit.span.text.slice(0, 120)}`);
    }
    client.close();
  });
}

main();
