/*
 * The storefront search page: plain JavaScript over the public API, no build step, no framework.
 *
 * The page's own URL holds the search in the API's own language (`/search?keywords=cozy&price=5000,`),
 * so a search can be shared, the back button works, and a developer can read the query they would
 * send. The API request adds only what the page needs to draw itself (paging size, sparse fields,
 * facets). Everything the page shows comes from `/v1/api/listings/query` and
 * `/v1/api/search-schemas`: a storefront on another origin could do exactly the same.
 *
 * `window.__storefront` exposes counters and timestamps (searches sent, keystrokes, first results)
 * so that the browser tests measure the budgets from the page's own clock instead of guessing
 * from outside.
 */
(function () {
  "use strict";

  var QUERY_URL = "v1/api/listings/query";
  var SCHEMAS_URL = "v1/api/search-schemas";
  var PER_PAGE = 24;
  // One search per pause in typing: a keystroke restarts the wait, so a word typed at any speed
  // costs one request, sent this long after the last key.
  var DEBOUNCE_MS = 250;
  var FACET_LIMIT = 12;
  var MAX_FACETS = 10; // the API's limit, `price` included
  var FIELDS = "title,description,price,geolocation,publicData.listingType";
  var DATE_PARAMS = ["start", "end", "availability", "seats", "minDuration"];
  var CHOICE_TYPES = { "enum": 1, "boolean": 2, "multi-enum": 3 }; // filters drawn as choices, in this order
  var API_SORTS = { "createdAt": true, "-price": true, "price": true };
  // The order parameters appear in the page's URL, so one search always has one URL.
  var ORDER = ["keywords", "price", "start", "end", "availability", "seats", "minDuration",
               "bounds", "origin", "sort", "page", "perPage"];
  // Which control to mark when the API names a parameter in a 400.
  var CONTROLS = {
    keywords: ["keywords"], price: ["price-min", "price-max"], start: ["start"], end: ["end"],
    availability: ["availability"], seats: ["seats"], minDuration: ["minDuration"], sort: ["sort"]
  };
  // When the page's own schema list is unavailable (an older server), the one schema every
  // install has (README: "pub_listingType (enum) exists on every fresh install").
  var FALLBACK_SCHEMAS = [{ key: "listingType", scope: "public", type: "enum", param: "pub_listingType", label: "Listing type" }];

  var probe = window.__storefront = {
    searchRequests: 0, inputTimes: [], requestTimes: [], firstResultsAt: null, lastQuery: null, map: null
  };
  window.__searchRequests = 0;

  var $ = function (id) { return document.getElementById(id); };
  var els = {};
  var params = {};          // the search, as API parameters (strings), mirrored in the URL
  var schemas = null;       // public search schemas, once known
  var facetsSupported = true;
  var currency = "USD";     // of the prices shown; the API's price filter is in its minor units
  var lastFacets = null;
  var inflight = null;      // AbortController of the search under way
  var retryTimer = null;
  var retries = 0;
  var typingTimer = null;
  var map = null, tiles = null, markers = null, originMarker = null, boundsBox = null;
  var fittedBounds = null;  // the `bounds` the map was last fitted to, so paging does not move it
  var movingMap = false;    // set while the page moves the map itself: only a person's move offers "search this area"
  var mapHasView = false;   // the first results place the map
  var markerById = {};
  var shownQuery = null;    // the API query behind the results on screen

  // ---------------------------------------------------------------- URL and parameters

  function readUrl() {
    var out = {};
    new URLSearchParams(location.search).forEach(function (value, key) {
      if (!(key in out)) out[key] = value;
    });
    return out;
  }

  function ordered(source) {
    var keys = Object.keys(source).filter(function (k) { return source[k] !== undefined && source[k] !== ""; });
    var rank = function (k) {
      var i = ORDER.indexOf(k);
      return i >= 0 ? i : (/^(pub|meta)_/.test(k) ? 0.5 : ORDER.length);
    };
    keys.sort(function (a, b) { return rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0); });
    var qs = new URLSearchParams();
    keys.forEach(function (k) { qs.append(k, source[k]); });
    return qs;
  }

  function datesComplete(p) { return Boolean(p.start && p.end); }

  /** Every key a filter needs counts for, in groups of at most the API's limit: the first group
   * rides on the search, each further one is a request of its own (perPage 1) sent beside it, so
   * a marketplace with more choice schemas than one request may facet still gets all its filters. */
  function facetGroups() {
    if (!facetsSupported) return [];
    var keys = ["price"].concat(choiceSchemas().map(function (s) { return s.param; }));
    var groups = [];
    for (var i = 0; i < keys.length; i += MAX_FACETS) groups.push(keys.slice(i, i + MAX_FACETS));
    return groups;
  }

  function facetKeys() {
    return facetGroups()[0] || [];
  }

  /** The further facet requests of the search `qs` (none while it fits in one). */
  function extraFacetQueries(qs) {
    var groups = facetGroups().slice(1);
    if (!groups.length) return [];
    var base = {};
    new URLSearchParams(qs).forEach(function (v, k) { base[k] = v; });
    return groups.map(function (keys) {
      var q = Object.assign({}, base);
      q.perPage = "1";
      q.page = "1";
      q["fields.listing"] = "title";
      q.facets = keys.join(",");
      return ordered(q).toString();
    });
  }

  function apiQuery() {
    var q = {};
    Object.keys(params).forEach(function (k) { q[k] = params[k]; });
    // A half-chosen date range is not a search yet: the API would answer 400 "end: required".
    if (!datesComplete(params)) DATE_PARAMS.forEach(function (k) { delete q[k]; });
    if (!q.perPage) q.perPage = String(PER_PAGE);
    q["fields.listing"] = FIELDS;
    var facets = facetKeys();
    if (facets.length) { q.facets = facets.join(","); q.facetLimit = String(FACET_LIMIT); }
    return ordered(q).toString();
  }

  /** Change the search: `changes` maps parameter names to strings, or to null to remove them. */
  function update(changes, options) {
    options = options || {};
    var before = ordered(params).toString();
    Object.keys(changes).forEach(function (k) {
      if (changes[k] === null || changes[k] === undefined || changes[k] === "") delete params[k];
      else params[k] = String(changes[k]);
    });
    if (!("page" in changes)) delete params.page;
    var qs = ordered(params).toString();
    if (qs === before && !options.typing) { // Enter then blur, say: one change, one search
      fillForm();
      return;
    }
    var url = new URL("search" + (qs ? "?" + qs : ""), document.baseURI).href;
    var typing = Boolean(options.typing);
    if (url !== location.href) {
      // A word typed in pauses is one history entry, not one per pause.
      if (typing && history.state && history.state.typing) history.replaceState({ typing: true }, "", url);
      else history.pushState({ typing: typing }, "", url);
    }
    fillForm();
    search();
  }

  // ---------------------------------------------------------------- money

  function fractionDigits(code) {
    try {
      return new Intl.NumberFormat("en", { style: "currency", currency: code }).resolvedOptions().maximumFractionDigits;
    } catch (e) { return 2; }
  }

  function money(amount, code) {
    var digits = fractionDigits(code);
    var value = amount / Math.pow(10, digits);
    try {
      return new Intl.NumberFormat(undefined, {
        style: "currency", currency: code, maximumFractionDigits: value % 1 === 0 ? 0 : digits
      }).format(value);
    } catch (e) { return value.toFixed(digits) + " " + code; }
  }

  /** `price=min,max` (minor units, max exclusive) as the form's inclusive major-unit bounds. */
  function priceInputs(raw) {
    if (!raw) return ["", ""];
    var scale = Math.pow(10, fractionDigits(currency));
    var parts = raw.split(",");
    var low = parts[0].trim(), high = parts.length > 1 ? parts[1].trim() : parts[0].trim();
    var exact = parts.length === 1;
    var num = function (text, minus) {
      if (text === "" || isNaN(Number(text))) return text;
      return String((Number(text) - minus) / scale);
    };
    return [num(low, 0), exact ? num(high, 0) : num(high, 1)];
  }

  function priceParam(low, high) {
    var scale = Math.pow(10, fractionDigits(currency));
    var minor = function (text) { return text === "" ? "" : String(Math.round(Number(text) * scale)); };
    low = low.trim(); high = high.trim();
    if (low === "" && high === "") return null;
    // The form's max is inclusive ("up to $100"); the API's is exclusive.
    var top = high === "" ? "" : (isNaN(Number(high)) ? high : String(Number(minor(high)) + 1));
    return (isNaN(Number(low)) ? low : minor(low)) + "," + top;
  }

  // ---------------------------------------------------------------- schemas and filters

  function choiceSchemas() {
    // Short lists first: a type or a yes/no reads at a glance, a long amenity list goes last.
    return (schemas || []).filter(function (s) { return CHOICE_TYPES[s.type]; }).sort(function (a, b) {
      return CHOICE_TYPES[a.type] - CHOICE_TYPES[b.type] || (a.scope < b.scope ? 1 : a.scope > b.scope ? -1 : 0);
    });
  }

  function selected(schema) {
    var raw = params[schema.param];
    if (!raw) return [];
    if (schema.type === "boolean") return [raw];
    return raw.replace(/^has_(all|any):/, "").split(",").map(function (v) { return v.trim(); }).filter(Boolean);
  }

  function setSelected(schema, values) {
    var change = {};
    if (!values.length) change[schema.param] = null;
    else if (schema.type === "multi-enum") {
      // "Has all of the ticked" narrows as you tick, as a shopper expects of amenities; a URL
      // that asked for has_any keeps it.
      var mode = /^has_any:/.test(params[schema.param] || "") ? "has_any:" : "has_all:";
      change[schema.param] = mode + values.join(",");
    } else change[schema.param] = values.join(",");
    update(change);
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (attrs[k] !== null && attrs[k] !== undefined && attrs[k] !== false) node.setAttribute(k, attrs[k] === true ? "" : attrs[k]);
    });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function choiceItem(schema, value, count, checked, kind, name) {
    var li = el("li");
    var label = el("label"); // the input inside it: no id to derive from an arbitrary value
    var input = el("input", {
      type: kind, name: name, value: String(value), checked: checked,
      "data-param": schema.param, "data-value": String(value),
      disabled: kind === "checkbox" && String(value).indexOf(",") >= 0 // a comma cannot be filtered on
    });
    label.appendChild(input);
    label.appendChild(el("span", { "class": "value" }, displayValue(schema, value)));
    if (count !== null && count !== undefined) {
      label.appendChild(el("span", { "class": "count" + (count === 0 ? " zero" : ""), "data-count": String(count) }, String(count)));
    }
    li.appendChild(label);
    return li;
  }

  function displayValue(schema, value) {
    if (schema.type === "boolean") return value === true || value === "true" ? "Yes" : value === "any" ? "Any" : "No";
    return String(value);
  }

  function renderFilters() {
    var holder = els.schemaFilters;
    var active = document.activeElement;
    var focused = active && holder.contains(active) && active.hasAttribute("data-param") ?
      'input[data-param="' + CSS.escape(active.getAttribute("data-param")) + '"][data-value="' +
      CSS.escape(active.getAttribute("data-value")) + '"]' : null;
    var seen = {};
    choiceSchemas().forEach(function (schema) {
      var id = "fs-" + schema.param;
      seen[id] = true;
      var fs = $(id);
      if (!fs) {
        fs = el("fieldset", { id: id, "data-param": schema.param, "data-type": schema.type });
        fs.appendChild(el("legend", {}, schema.label));
        fs.appendChild(el("ul", { "class": "choices" }));
        fs.appendChild(el("p", { "class": "more", hidden: true }));
        holder.appendChild(fs);
      }
      var list = fs.querySelector("ul");
      var more = fs.querySelector(".more");
      var facet = lastFacets && lastFacets[schema.param];
      var chosen = selected(schema);
      list.textContent = "";
      if (schema.type === "boolean") {
        var counts = {};
        if (facet) facet.values.forEach(function (v) { counts[String(v.value)] = v.count; });
        var current = chosen[0] || "any";
        ["any", "true", "false"].forEach(function (v) {
          var count = v === "any" || !facet ? null : (counts[v] || 0);
          list.appendChild(choiceItem(schema, v, count, current === v, "radio", schema.param));
        });
      } else {
        var shown = {};
        (facet ? facet.values : []).forEach(function (v) {
          shown[String(v.value)] = true;
          list.appendChild(choiceItem(schema, v.value, v.count, chosen.indexOf(String(v.value)) >= 0, "checkbox"));
        });
        // A ticked value past the facet limit (or with no facets at all) stays visible, so it can be unticked.
        chosen.forEach(function (v) {
          if (!shown[v]) list.appendChild(choiceItem(schema, v, facet ? 0 : null, true, "checkbox"));
        });
        more.hidden = !(facet && facet.otherValues > 0);
        if (facet) more.textContent = "+ " + facet.otherValues + " more (search by keyword to find them)";
      }
      fs.hidden = list.children.length === 0;
    });
    Array.prototype.slice.call(holder.children).forEach(function (child) { if (!seen[child.id]) holder.removeChild(child); });
    // The lists are redrawn with new counts; keep the keyboard where it was.
    var again = focused && holder.querySelector(focused);
    if (again) again.focus();
  }

  function onChoice(event) {
    var input = event.target;
    if (!input.matches("input[data-param]")) return;
    var schema = choiceSchemas().filter(function (s) { return s.param === input.getAttribute("data-param"); })[0];
    if (!schema) return;
    if (schema.type === "boolean") {
      var change = {};
      change[schema.param] = input.value === "any" ? null : input.value;
      update(change);
      return;
    }
    var values = selected(schema).filter(function (v) { return v !== input.value; });
    if (input.checked) values.push(input.value);
    setSelected(schema, values);
  }

  // ---------------------------------------------------------------- the form

  function sortValue() {
    if (API_SORTS[params.sort]) return params.sort;
    if (params.origin) return "distance";
    return params.keywords ? "relevance" : "createdAt";
  }

  /** A field being typed in keeps what is typed: answers to earlier searches arrive meanwhile. */
  function setField(node, value) {
    if (node !== document.activeElement) node.value = value;
  }

  function fillForm() {
    setField(els.keywords, params.keywords || "");
    var price = priceInputs(params.price);
    setField(els.priceMin, price[0]);
    setField(els.priceMax, price[1]);
    setField(els.start, (params.start || "").slice(0, 10));
    setField(els.end, (params.end || "").slice(0, 10));
    els.availability.value = params.availability || "day-full";
    setField(els.seats, params.seats || "");
    setField(els.minDuration, params.minDuration || "");
    var partial = /partial$/.test(els.availability.value);
    $("min-duration-row").hidden = !partial;
    $("min-duration-label").textContent = /^time/.test(els.availability.value) ? "At least (minutes)" : "At least (days)";
    $("dates-hint").textContent = "Pick both dates to search by availability.";
    $("dates-hint").hidden = datesComplete(params) || !(params.start || params.end);
    var today = new Date().toISOString().slice(0, 10);
    var last = new Date(Date.now() + 365 * 864e5).toISOString().slice(0, 10);
    els.start.min = today; els.start.max = last;
    els.end.min = els.start.value || today; els.end.max = last;

    els.sort.value = sortValue();
    els.sort.querySelector('[value="relevance"]').disabled = !params.keywords;
    els.sort.querySelector('[value="distance"]').disabled = !params.origin;

    $("clear-area").hidden = !params.bounds;
    $("clear-origin").hidden = !params.origin;
    var active = Object.keys(params).filter(function (k) {
      return k !== "keywords" && k !== "sort" && k !== "page" && k !== "perPage";
    }).length;
    $("active-count").hidden = active === 0;
    $("active-count").textContent = String(active);
    document.title = (params.keywords ? params.keywords + " · " : "") + "Search listings";
    if (schemas) renderFilters();
    drawSearchShapes();
  }

  function onDates() {
    var change = { start: els.start.value || null, end: els.end.value || null };
    // A date typed digit by digit passes through years like 0002: wait until it is one the API
    // takes (today .. a year ahead) rather than search, and fail, on every keystroke.
    var outside = [change.start, change.end].some(function (d) { return d && (d < els.start.min || d > els.start.max); });
    if (outside) {
      $("dates-hint").textContent = "Dates run from today to a year ahead.";
      $("dates-hint").hidden = false;
      return;
    }
    if (change.start && change.end && change.end <= change.start) {
      // Pick the day after as the end, as a date picker would, rather than sending a 400.
      var next = new Date(change.start + "T00:00:00Z");
      next.setUTCDate(next.getUTCDate() + 1);
      change.end = els.end.value = next.toISOString().slice(0, 10);
    }
    var mode = els.availability.value;
    change.availability = mode === "day-full" ? null : mode;
    var seats = els.seats.value.trim();
    change.seats = seats && seats !== "1" ? seats : null;
    change.minDuration = /partial$/.test(mode) && els.minDuration.value.trim() ? els.minDuration.value.trim() : null;
    update(change);
  }

  function onPrice() {
    update({ price: priceParam(els.priceMin.value, els.priceMax.value) });
  }

  function onSort() {
    var value = els.sort.value;
    if (value === "relevance") update({ sort: null, origin: null }); // a location would order by distance
    else if (value === "distance") update({ sort: null });
    else update({ sort: value });
  }

  function applyKeywords() {
    clearTimeout(typingTimer);
    typingTimer = null;
    var value = els.keywords.value.trim();
    if ((params.keywords || "") === value) return;
    update({ keywords: value || null }, { typing: true });
  }

  // ---------------------------------------------------------------- searching

  function setState(state) {
    document.body.setAttribute("data-search-state", state);
  }

  function search() {
    clearTimeout(retryTimer);
    if (!schemas) return; // the schema list's arrival starts the first search
    if (inflight) inflight.abort(); // a newer search makes the older answer worthless
    inflight = null;
    var qs = apiQuery();
    var state = document.body.getAttribute("data-search-state");
    if (qs === shownQuery && (state === "ready" || state === "loading")) {
      // What is shown already answers this (one date of two picked, a change undone): no request.
      setState("ready");
      return;
    }
    var controller = inflight = new AbortController();
    probe.searchRequests += 1;
    window.__searchRequests = probe.searchRequests;
    probe.requestTimes.push(performance.now());
    setState("loading");
    var extras = extraFacetQueries(qs).map(function (extra) {
      // Counts only: a failure here leaves those filters without counts, not the search broken.
      return fetch(QUERY_URL + "?" + extra, { headers: { Accept: "application/json" }, signal: controller.signal })
        .then(function (resp) { return resp.ok ? resp.json() : null; })
        .then(function (body) { return body && body.meta && body.meta.facets; }, function () { return null; });
    });
    fetch(QUERY_URL + "?" + qs, { headers: { Accept: "application/json" }, signal: controller.signal })
      .then(function (resp) {
        return resp.json().catch(function () { return null; }).then(function (body) { return { resp: resp, body: body }; });
      }, function (err) { return { failed: err }; })
      .then(function (answer) {
        return Promise.all(extras).then(function (more) {
          var facets = answer.body && answer.body.meta && answer.body.meta.facets;
          if (facets) more.forEach(function (f) { if (f) Object.keys(f).forEach(function (k) { facets[k] = f[k]; }); });
          return answer;
        });
      })
      .then(function (answer) {
        // Only the network's failures are caught: a bug in drawing the answer must reach the console.
        if (controller !== inflight) return; // a newer search took over
        inflight = null;
        if (answer.failed) retryLater(null, "the search service could not be reached");
        else handle(answer.resp, answer.body, qs);
      });
  }

  function handle(resp, body, qs) {
    if (resp.ok && body && body.data) {
      retries = 0;
      render(body, qs);
      return;
    }
    var error = body && body.errors && body.errors[0];
    var details = error ? error.details : "HTTP " + resp.status;
    if (resp.status === 503 || resp.status === 429 || resp.status === 502 || resp.status === 504) {
      retryLater(resp.headers.get("Retry-After"), details, resp.status);
      return;
    }
    var param = error && error.source && error.source.path ? error.source.path[error.source.path.length - 1] : null;
    if (resp.status === 400 && param === "facets" && facetsSupported) {
      facetsSupported = false; // a server without facets: filters without counts
      search();
      return;
    }
    showError(resp.status, param, details);
  }

  function retryLater(retryAfter, details, status) {
    retries += 1;
    var seconds = Number(retryAfter);
    if (!(seconds > 0)) seconds = Math.min(Math.pow(2, retries - 1), 15);
    seconds = Math.min(Math.max(seconds, 1), 30);
    setState("retrying");
    message("warn", [
      textP("The search service is unavailable" + (status ? " (" + status + ")" : "") + ": " + details + "."),
      textP("Retrying in " + seconds + " s… (attempt " + retries + ")"),
      button("Retry now", function () { retries = 0; search(); })
    ]);
    retryTimer = setTimeout(search, seconds * 1000);
  }

  function showError(status, param, details) {
    setState("error");
    clearMarks();
    showTiles();
    var parts = [];
    if (status === 400 && param) {
      var p = el("p");
      p.appendChild(document.createTextNode("This search has a problem with the parameter "));
      p.appendChild(el("code", {}, param));
      p.appendChild(document.createTextNode(": " + details));
      parts.push(p);
      (CONTROLS[param] || []).forEach(function (id) { $(id).setAttribute("aria-invalid", "true"); });
      var fs = $("fs-" + param);
      if (fs) fs.setAttribute("aria-invalid", "true");
      if (param in params) {
        parts.push(button("Remove " + param + " from the search", function () {
          var change = {};
          change[param] = null;
          update(change);
        }));
      }
    } else {
      parts.push(textP("The search failed (" + status + "): " + details));
    }
    message("error", parts);
    els.count.textContent = "Search problem";
    els.count.removeAttribute("data-total");
    els.cards.textContent = "";
    els.pager.textContent = "";
    els.results.setAttribute("data-query", "");
    shownQuery = null;
  }

  function clearMarks() {
    Array.prototype.forEach.call(document.querySelectorAll("[aria-invalid]"), function (node) {
      node.removeAttribute("aria-invalid");
    });
  }

  function textP(text) { return el("p", {}, text); }

  function button(label, onClick, cls) {
    var b = el("button", { type: "button", "class": cls || "secondary" }, label);
    b.addEventListener("click", onClick);
    return b;
  }

  function message(kind, parts) {
    var box = els.message;
    box.textContent = "";
    box.className = "message" + (kind === "error" ? " error" : "");
    parts.forEach(function (part) { box.appendChild(part); });
    box.hidden = false;
  }

  // ---------------------------------------------------------------- results

  function render(body, qs) {
    var meta = body.meta || {};
    var listings = body.data || [];
    var withPrice = listings.filter(function (l) { return l.attributes && l.attributes.price; })[0];
    if (withPrice) currency = withPrice.attributes.price.currency || currency;
    lastFacets = meta.facets || null;
    clearMarks();
    els.message.hidden = true;

    var total = meta.totalItems || 0;
    els.count.textContent = total === 1 ? "1 listing" : total.toLocaleString() + " listings";
    els.count.setAttribute("data-total", String(total));
    els.results.setAttribute("data-query", qs);
    shownQuery = qs;
    $("api-link").href = QUERY_URL + "?" + qs;
    probe.lastQuery = qs;

    els.cards.textContent = "";
    markerById = {};
    if (!listings.length) els.cards.appendChild(emptyState());
    listings.forEach(function (listing) { els.cards.appendChild(card(listing)); });
    renderPager(meta);
    renderPriceHint();
    fillForm();
    drawMarkers(listings);
    setState("ready");
    if (probe.firstResultsAt === null) {
      // Measured on the page's own clock (0 = navigation start), at the frame that paints them.
      requestAnimationFrame(function () { if (probe.firstResultsAt === null) probe.firstResultsAt = performance.now(); });
    }
  }

  function emptyState() {
    var li = el("li", { "class": "empty" });
    li.appendChild(el("p", {}, "No listings match this search."));
    // Keywords are not a filter: "Clear all filters" keeps them, so it is offered only when it
    // would change something.
    var filters = Object.keys(params).filter(function (k) {
      return k !== "sort" && k !== "page" && k !== "perPage" && k !== "keywords";
    });
    if (filters.length) {
      li.appendChild(el("p", { "class": "hint" }, "Try fewer filters, other dates or a wider area."));
      li.appendChild(button("Clear all filters", clearAll));
    }
    return li;
  }

  function card(listing) {
    var a = listing.attributes || {};
    var geo = a.geolocation;
    var li = el("li", {
      "class": "card", "data-id": listing.id,
      "data-lat": geo ? String(geo.lat) : null, "data-lng": geo ? String(geo.lng) : null
    });
    var h = el("h2");
    h.appendChild(el("a", {
      href: "v1/api/listings/show?id=" + encodeURIComponent(listing.id), title: "This listing in the API (listings/show)"
    }, a.title || "Untitled listing"));
    li.appendChild(h);
    li.appendChild(el("span", { "class": "price" }, a.price ? money(a.price.amount, a.price.currency) : "—"));
    var type = a.publicData && a.publicData.listingType;
    if (type) li.appendChild(el("span", { "class": "type" }, String(type)));
    if (a.description) li.appendChild(el("p", { "class": "desc" }, shorten(String(a.description), 180)));
    if (geo && params.origin) {
      var o = params.origin.split(",").map(Number);
      li.appendChild(el("span", { "class": "distance" }, km(o[0], o[1], geo.lat, geo.lng) + " away"));
    }
    li.addEventListener("mouseenter", function () { highlight(listing.id, true); });
    li.addEventListener("mouseleave", function () { highlight(listing.id, false); });
    li.addEventListener("focusin", function () { highlight(listing.id, true); });
    li.addEventListener("focusout", function () { highlight(listing.id, false); });
    return li;
  }

  function shorten(text, n) {
    text = text.replace(/\s+/g, " ").trim();
    return text.length <= n ? text : text.slice(0, n - 1).replace(/\s+\S*$/, "") + "…";
  }

  function km(lat1, lng1, lat2, lng2) {
    var r = Math.PI / 180;
    var d = Math.sin((lat2 - lat1) * r / 2) * Math.sin((lat2 - lat1) * r / 2) +
      Math.cos(lat1 * r) * Math.cos(lat2 * r) * Math.sin((lng2 - lng1) * r / 2) * Math.sin((lng2 - lng1) * r / 2);
    var dist = 12742 * Math.asin(Math.sqrt(d));
    return (dist < 10 ? dist.toFixed(1) : Math.round(dist).toLocaleString()) + " km";
  }

  function renderPager(meta) {
    var pager = els.pager;
    pager.textContent = "";
    var pages = Math.min(meta.totalPages || 0, meta.paginationLimit || Infinity);
    var page = meta.page || 1;
    if (pages <= 1) return;
    var go = function (n) {
      return function () {
        update({ page: n > 1 ? String(n) : null });
        els.results.focus({ preventScroll: true });
        els.results.scrollIntoView({ block: "start" });
      };
    };
    var add = function (label, n, attrs) {
      var b = button(label, go(n), "secondary");
      Object.keys(attrs || {}).forEach(function (k) { b.setAttribute(k, attrs[k]); });
      pager.appendChild(b);
    };
    if (page > 1) add("‹ Previous", page - 1, { "aria-label": "Previous page", rel: "prev" });
    var wanted = [1, page - 1, page, page + 1, pages].filter(function (n, i, all) {
      return n >= 1 && n <= pages && all.indexOf(n) === i;
    }).sort(function (x, y) { return x - y; });
    wanted.forEach(function (n, i) {
      if (i > 0 && n - wanted[i - 1] > 1) pager.appendChild(el("span", { "class": "gap" }, "…"));
      add(String(n), n, n === page ? { "aria-current": "page", "aria-label": "Page " + n } : { "aria-label": "Page " + n });
    });
    if (page < pages) add("Next ›", page + 1, { "aria-label": "Next page", rel: "next" });
  }

  function renderPriceHint() {
    var hint = $("price-range");
    var range = lastFacets && lastFacets.price;
    if (range && range.min !== null && range.max !== null) {
      hint.textContent = "From " + money(range.min, currency) + " to " + money(range.max, currency);
      els.priceMin.placeholder = String(Math.floor(range.min / Math.pow(10, fractionDigits(currency))));
      els.priceMax.placeholder = String(Math.ceil(range.max / Math.pow(10, fractionDigits(currency))));
    } else {
      hint.textContent = "In " + currency + ", both ends included";
    }
  }

  function clearAll() {
    var change = {};
    Object.keys(params).forEach(function (k) { if (k !== "keywords") change[k] = null; });
    update(change);
  }

  // ---------------------------------------------------------------- map

  function initMap() {
    if (!window.L) {
      $("map-note").textContent = "The map could not be loaded; the search works without it.";
      return;
    }
    var L = window.L;
    // Leaflet draws shapes only on a map with a view, so it gets one at once; the tiles come when
    // the first results have placed the map (showTiles), not for a world view nobody looks at.
    map = probe.map = L.map("map", { worldCopyJump: true, zoomSnap: 0.5 });
    moveMap(function () { map.setView([20, 0], 2); });
    markers = L.featureGroup().addTo(map);
    map.on("click", function (e) { setOrigin(e.latlng); });
    // Any move a person makes (drag, zoom, keyboard) offers the new area; the page's own fits do not.
    map.on("moveend", function () { if (!movingMap) $("search-area").hidden = false; });
  }

  function showTiles() {
    if (!map || tiles) return;
    tiles = window.L.tileLayer("https://tile.openstreetmap.org/{z}/{x}/{y}.png", {
      maxZoom: 19,
      attribution: '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
    }).addTo(map);
    var offline = false;
    tiles.on("tileerror", function () {
      if (offline) return;
      offline = true; // markers need no tiles: say why the map is blank, once
      $("map-note").textContent = "Map tiles are unavailable (offline?): showing the results' positions only. Click the map to sort by distance.";
    });
  }

  function resizeMap() {
    if (map) moveMap(function () { map.invalidateSize({ pan: false }); });
  }

  function moveMap(fn) {
    movingMap = true;
    try { fn(); } finally { movingMap = false; }
  }

  function drawMarkers(listings) {
    if (!map) return;
    var L = window.L;
    markers.clearLayers();
    listings.forEach(function (listing) {
      var a = listing.attributes || {};
      if (!a.geolocation) return;
      var marker = L.circleMarker([a.geolocation.lat, a.geolocation.lng], {
        radius: 7, weight: 2, color: "#fff", fillColor: "#1f5fd1", fillOpacity: 0.9, bubblingMouseEvents: false
      });
      marker.bindTooltip((a.title || "Listing") + (a.price ? " · " + money(a.price.amount, a.price.currency) : ""));
      marker.on("click", function () {
        var target = els.cards.querySelector('[data-id="' + listing.id + '"] a');
        if (target) { target.focus(); target.scrollIntoView({ block: "nearest" }); }
      });
      marker.addTo(markers);
      markerById[listing.id] = marker;
    });
    if (params.bounds) {
      if ((fittedBounds !== params.bounds || !mapHasView) && boundsBox) {
        moveMap(function () { map.fitBounds(boundsBox.getBounds(), { animate: false }); });
        fittedBounds = params.bounds;
        mapHasView = true;
      }
    } else {
      fittedBounds = null;
      var group = L.featureGroup(Object.keys(markerById).map(function (id) { return markerById[id]; }));
      if (originMarker) group.addLayer(L.circleMarker(originMarker.getLatLng()));
      if (group.getLayers().length) {
        moveMap(function () { map.fitBounds(group.getBounds(), { padding: [24, 24], maxZoom: 15, animate: false }); });
      }
      mapHasView = true;
    }
    $("search-area").hidden = true;
    showTiles();
  }

  function highlight(id, on) {
    var marker = markerById[id];
    if (!marker) return;
    marker.setStyle(on ? { fillColor: "#e8590c", radius: 10 } : { fillColor: "#1f5fd1", radius: 7 });
    if (on) marker.bringToFront();
  }

  /** The origin marker and the searched box, drawn from the parameters (so also after back/reload). */
  function drawSearchShapes() {
    if (!map) return;
    var L = window.L;
    var origin = (params.origin || "").split(",").map(Number);
    if (originMarker) { map.removeLayer(originMarker); originMarker = null; }
    if (origin.length === 2 && isFinite(origin[0]) && isFinite(origin[1])) {
      originMarker = L.circleMarker(origin, {
        radius: 8, weight: 3, color: "#e8590c", fillColor: "#fff", fillOpacity: 1, interactive: false
      }).addTo(map);
    }
    var box = (params.bounds || "").split(",").map(Number);
    if (boundsBox) { map.removeLayer(boundsBox); boundsBox = null; }
    if (box.length === 4 && box.every(isFinite)) {
      var east = box[1] < box[3] ? box[1] + 360 : box[1]; // a box across the antimeridian
      boundsBox = L.rectangle([[box[2], box[3]], [box[0], east]], {
        color: "#1f5fd1", weight: 1, dashArray: "4 4", fill: false, interactive: false
      }).addTo(map);
    }
  }

  function wrapLng(lng) { return ((((lng + 180) % 360) + 360) % 360) - 180; }

  function searchThisArea() {
    var b = map.getBounds();
    var north = Math.min(b.getNorth(), 90), south = Math.max(b.getSouth(), -90);
    var west = b.getWest(), east = b.getEast();
    if (east - west >= 360) { west = -180; east = 180; } else { west = wrapLng(west); east = wrapLng(east); }
    // Rounded outwards, so everything in view is inside what is searched.
    var up = function (x) { return (Math.ceil(x * 1e5) / 1e5).toFixed(5); };
    var down = function (x) { return (Math.floor(x * 1e5) / 1e5).toFixed(5); };
    fittedBounds = [up(north), up(Math.min(east, 180)), down(south), down(Math.max(west, -180))].join(",");
    update({ bounds: fittedBounds });
  }

  function setOrigin(latlng) {
    var sort = API_SORTS[params.sort] ? params.sort : null; // an explicit sort stays; distance breaks its ties
    update({ origin: latlng.lat.toFixed(5) + "," + wrapLng(latlng.lng).toFixed(5), sort: sort });
  }

  // ---------------------------------------------------------------- start

  function loadSchemas() {
    fetch(SCHEMAS_URL, { headers: { Accept: "application/json" } })
      .then(function (resp) {
        if (resp.status === 404) return { data: FALLBACK_SCHEMAS };
        if (!resp.ok) throw { status: resp.status, retryAfter: resp.headers.get("Retry-After") };
        return resp.json();
      })
      .then(function (body) {
        retries = 0;
        schemas = body.data || [];
        renderFilters();
        search();
      })
      .catch(function (err) {
        retries += 1;
        var seconds = Math.min(Math.max(Number(err && err.retryAfter) || Math.pow(2, retries - 1), 1), 15);
        setState("retrying");
        message("warn", [textP("The search service is unavailable" + (err && err.status ? " (" + err.status + ")" : "") +
          ". Retrying in " + seconds + " s…")]);
        setTimeout(loadSchemas, seconds * 1000);
      });
  }

  function bind() {
    els = {
      keywords: $("keywords"), priceMin: $("price-min"), priceMax: $("price-max"), start: $("start"), end: $("end"),
      availability: $("availability"), seats: $("seats"), minDuration: $("minDuration"), sort: $("sort"),
      count: $("result-count"), cards: $("cards"), pager: $("pager"), message: $("message"),
      results: $("results"), schemaFilters: $("schema-filters")
    };
    els.keywords.addEventListener("input", function () {
      probe.inputTimes.push(performance.now());
      clearTimeout(typingTimer);
      typingTimer = setTimeout(applyKeywords, DEBOUNCE_MS);
    });
    $("search-form").addEventListener("submit", function (e) { e.preventDefault(); applyKeywords(); });
    $("filter-form").addEventListener("submit", function (e) { e.preventDefault(); });
    [els.start, els.end, els.availability, els.seats, els.minDuration].forEach(function (node) {
      node.addEventListener("change", onDates);
    });
    [els.priceMin, els.priceMax].forEach(function (node) { node.addEventListener("change", onPrice); });
    // Enter applies a number at once (a form of several fields has no implicit submit).
    [els.priceMin, els.priceMax, els.seats, els.minDuration].forEach(function (node) {
      node.addEventListener("keydown", function (e) {
        if (e.key === "Enter") { e.preventDefault(); (node === els.priceMin || node === els.priceMax ? onPrice : onDates)(); }
      });
    });
    els.sort.addEventListener("change", onSort);
    els.schemaFilters.addEventListener("change", onChoice);
    $("clear-all").addEventListener("click", clearAll);
    $("search-area").addEventListener("click", searchThisArea);
    $("clear-area").addEventListener("click", function () { update({ bounds: null }); });
    $("origin-centre").addEventListener("click", function () { if (map && mapHasView) setOrigin(map.getCenter()); });
    $("clear-origin").addEventListener("click", function () { update({ origin: null }); });
    window.addEventListener("popstate", function () {
      params = readUrl();
      clearTimeout(typingTimer);
      els.keywords.value = params.keywords || ""; // also when the box has focus, unlike other updates
      fillForm();
      search();
    });
    // Filters fold away on a phone, where they would push the results off the first screen.
    var wide = window.matchMedia("(min-width: 700px)");
    var fold = function () {
      $("filters").open = wide.matches;
      resizeMap();
    };
    fold();
    wide.addEventListener("change", fold);
    $("filters").addEventListener("toggle", resizeMap);
  }

  function start() {
    bind();
    params = readUrl();
    history.replaceState({ typing: false }, "", location.href);
    initMap();
    fillForm();
    loadSchemas();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
