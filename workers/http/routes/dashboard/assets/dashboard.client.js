// The dashboard's own script (served from /dashboard/assets, so the CSP allows only same-origin
// scripts): draws the charts from the JSON the page carries, runs the provider's wallet sign-in,
// and fetches receipt proofs. Chart.js (global `Chart`) is loaded before it.
"use strict";

const PALETTE = ["#2454d6", "#e07a1f", "#1f9d6b", "#b83280", "#6b46c1", "#c53030", "#2c7a7b", "#975a16"];

function drawCharts() {
  for (const canvas of document.querySelectorAll("canvas[data-chart]")) {
    const source = document.getElementById(canvas.dataset.chart);
    if (!source || typeof Chart === "undefined") continue;
    const { labels, series, unit } = JSON.parse(source.textContent);
    const datasets = series.map((s, i) => ({ label: s.label, data: s.values, backgroundColor: PALETTE[i % PALETTE.length], stack: "all" }));
    new Chart(canvas, {
      type: "bar",
      data: { labels, datasets },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, title: { display: true, text: unit } } },
        plugins: { legend: { position: "bottom" } },
      },
    });
  }
}

async function walletSignIn(button) {
  const form = document.getElementById("wallet-form");
  const status = document.getElementById("wallet-status");
  const say = (text) => {
    status.textContent = text;
  };
  if (!window.ethereum) return say("No browser wallet found. Install one, or open this page in your wallet's browser.");
  button.disabled = true;
  try {
    const [address] = await window.ethereum.request({ method: "eth_requestAccounts" });
    if (!address) throw new Error("The wallet shared no account.");
    say("Asking the gateway for the message to sign…");
    const res = await fetch("/dashboard/provider/challenge", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ address, nonce: form.elements.nonce.value }),
    });
    const challenge = await res.json();
    if (!res.ok) throw new Error((challenge.error && challenge.error.message) || `The gateway answered ${res.status}.`);
    say("Sign the message in your wallet…");
    const signature = await window.ethereum.request({ method: "eth_signTypedData_v4", params: [address, challenge.typedData] });
    form.elements.address.value = address;
    form.elements.timestamp.value = String(challenge.timestamp);
    form.elements.signature.value = signature;
    form.submit();
  } catch (err) {
    say(`Sign-in failed: ${err && err.message ? err.message : String(err)}`);
    button.disabled = false;
  }
}

async function showProof(button) {
  const out = document.getElementById(button.dataset.target);
  out.hidden = false;
  out.textContent = "Loading…";
  try {
    const res = await fetch(button.dataset.proofUrl, { headers: { accept: "application/json" } });
    const body = await res.json();
    out.textContent = res.ok
      ? JSON.stringify({ leaf: body.leaf, proof: body.proof, merkle_root: body.period.merkle_root, batches: body.batches }, null, 2)
      : (body.error && body.error.message) || `The gateway answered ${res.status}.`;
  } catch (err) {
    out.textContent = `Could not load the proof: ${String(err)}`;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  drawCharts();
  const wallet = document.getElementById("wallet-sign-in");
  if (wallet) wallet.addEventListener("click", () => walletSignIn(wallet));
  for (const b of document.querySelectorAll("button[data-proof-url]")) b.addEventListener("click", () => showProof(b));
});
