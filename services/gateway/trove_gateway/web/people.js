// People: the faces in the user's photos and videos, grouped into people by the server. The People view shows each
// person's face with a name field (named in place: Enter or leaving the field saves); a person's page lists the
// photos and video moments they are in, and lets the user rename, hide or merge them, or take out a face that is
// someone else (it becomes a person of its own).

import { fill, formatSpan, h } from "./dom.js";

const KIND_LABELS = { image: "photo", video: "video", audio: "audio", document: "document" };

/** A face crop box: a placeholder at once, the crop (fetched with the Authorization header) when it arrives. */
function faceBox(api, url, alt) {
  const box = h("span", { class: "face" });
  if (url) {
    api
      .faceCrop(url)
      .then((src) => src && fill(box, h("img", { class: "face-img", src, alt })))
      .catch(() => {}); // the placeholder stays
  }
  return box;
}

function faceCount(n) {
  return `${n} ${n === 1 ? "face" : "faces"}`;
}

/** A name field that saves on Enter or when it loses focus (only when the name changed). */
function nameField(person, label, save) {
  const input = h("input", {
    type: "text",
    class: "person-name",
    maxlength: 100,
    placeholder: "Add a name",
    "aria-label": label,
    value: person.name,
  });
  input.value = person.name;
  let saved = person.name;
  const commit = async () => {
    const name = input.value.trim();
    if (name === saved) return;
    input.setAttribute("aria-busy", "true");
    try {
      const updated = await save(name);
      saved = updated.name;
      input.value = updated.name;
      input.classList.remove("invalid");
    } catch (error) {
      input.classList.add("invalid");
      input.title = `Not saved: ${error.message}`;
    } finally {
      input.removeAttribute("aria-busy");
    }
  };
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      commit();
    } else if (event.key === "Escape") {
      input.value = saved;
    }
  });
  input.addEventListener("change", commit);
  return input;
}

export class People extends EventTarget {
  /** The People view (#/people). */
  constructor({ api, grid, status, empty, showHidden }) {
    super();
    Object.assign(this, { api, grid, statusEl: status, empty, showHidden });
    this.generation = 0;
    showHidden.addEventListener("change", () => this.show());
  }

  async show() {
    const generation = ++this.generation;
    this.statusEl.textContent = "Loading…";
    try {
      const { items } = await this.api.people({ hidden: this.showHidden.checked });
      if (generation !== this.generation) return;
      fill(this.grid, items.map((person) => this.card(person)));
      this.empty.hidden = items.length > 0;
      this.statusEl.textContent = items.length ? `${items.length} ${items.length === 1 ? "person" : "people"}` : "";
    } catch (error) {
      if (generation === this.generation) this.statusEl.textContent = `Could not load people: ${error.message}`;
    }
  }

  card(person) {
    const label = person.name || "Unnamed person";
    return h(
      "li",
      { class: `person-card${person.hidden ? " hidden-person" : ""}`, dataset: { personId: person.person_id } },
      h(
        "a",
        { href: `#/people/${encodeURIComponent(person.person_id)}`, class: "person-open", "aria-label": `${label}, ${faceCount(person.face_count)}` },
        faceBox(this.api, person.cover_url, ""),
      ),
      nameField(person, `Name of ${label}`, (name) => this.api.updatePerson(person.person_id, { name })),
      h("span", { class: "muted small-text" }, faceCount(person.face_count), person.hidden ? " · hidden" : ""),
    );
  }

  reset() {
    this.generation += 1;
    this.showHidden.checked = false;
    this.grid.replaceChildren();
  }
}

export class PersonPage extends EventTarget {
  /** One person's page (#/people/<id>). Events: "open" {mediaId, startS}. */
  constructor({ api, thumbnails, title, body, status }) {
    super();
    Object.assign(this, { api, thumbnails, title, body, statusEl: status });
    this.generation = 0;
    this.personId = null;
  }

  async show(personId) {
    const generation = ++this.generation;
    this.personId = personId;
    this.statusEl.textContent = "Loading…";
    this.body.replaceChildren();
    try {
      const [person, all] = await Promise.all([this.api.person(personId), this.api.people()]);
      if (generation !== this.generation) return;
      this.render(person, all.items.filter((p) => p.person_id !== personId));
      this.statusEl.textContent = "";
    } catch (error) {
      if (generation !== this.generation) return;
      this.title.textContent = "Person";
      this.statusEl.textContent = error.status === 404 ? "This person is not in your library." : `Could not load: ${error.message}`;
    }
  }

  render(person, others) {
    const label = person.name || "Unnamed person";
    this.title.textContent = label;
    const merge = h("select", { id: "person-merge", "aria-label": `Merge another person into ${label}` },
      h("option", { value: "" }, "Same person as…"),
      others.map((p) => h("option", { value: p.person_id }, `${p.name || "Unnamed person"} (${faceCount(p.face_count)})`)),
    );
    fill(
      this.body,
      h(
        "div",
        { class: "person-head" },
        faceBox(this.api, person.cover_url, ""),
        h(
          "div",
          { class: "stack" },
          nameField(person, "Name", async (name) => {
            const updated = await this.api.updatePerson(person.person_id, { name });
            this.title.textContent = updated.name || "Unnamed person";
            return updated;
          }),
          h("span", { class: "muted" }, `${faceCount(person.face_count)} in ${person.media.length} ${person.media.length === 1 ? "file" : "files"}`),
          person.name ? h("a", { href: `#/search?q=${encodeURIComponent(person.name)}` }, `Search for “${person.name}”`) : "",
          h(
            "div",
            { class: "actions" },
            h("button", { type: "button", class: "secondary small", onclick: () => this.hide(person) }, person.hidden ? "Show in People" : "Hide"),
            others.length ? merge : "",
            others.length ? h("button", { type: "button", class: "secondary small", onclick: () => this.merge(person, merge.value) }, "Merge") : "",
          ),
        ),
      ),
      h("ul", { class: "person-media", "aria-label": `Files with ${label}` }, person.media.map((m) => this.mediaItem(m))),
    );
  }

  mediaItem(media) {
    const open = (startS) => () => this.dispatchEvent(new CustomEvent("open", { detail: { mediaId: media.media_id, startS } }));
    return h(
      "li",
      { class: "person-file", dataset: { mediaId: media.media_id, filename: media.filename } },
      h(
        "button",
        { type: "button", class: "card", onclick: open(media.moments.length ? media.moments[0].start_s : 0) },
        this.thumbnails.box({ media_id: media.media_id, kind: media.kind, status: "completed" }),
        h("span", { class: "card-name" }, media.filename),
        h("span", { class: "card-meta" }, h("span", { class: "badge kind" }, KIND_LABELS[media.kind] || media.kind)),
      ),
      media.moments.length
        ? h(
            "p",
            { class: "moments" },
            "In ",
            media.moments.map((m) =>
              h("button", { type: "button", class: "small secondary", onclick: open(m.start_s), "aria-label": `${media.filename} at ${formatSpan(m.start_s, m.end_s)}` }, formatSpan(m.start_s, m.end_s)),
            ),
          )
        : "",
      h(
        "div",
        { class: "faces" },
        media.faces.map((face) =>
          h(
            "span",
            { class: "face-item", dataset: { faceId: face.face_id } },
            faceBox(this.api, face.crop_url, "A face in this file"),
            h("button", { type: "button", class: "small secondary", onclick: () => this.moveOut(face.face_id), "aria-label": `Not this person (${media.filename})` }, "Not them"),
          ),
        ),
      ),
    );
  }

  async hide(person) {
    await this.act(() => this.api.updatePerson(person.person_id, { hidden: !person.hidden }));
  }

  async merge(person, otherId) {
    if (!otherId) return;
    await this.act(() => this.api.mergePeople(person.person_id, otherId));
  }

  async moveOut(faceId) {
    await this.act(() => this.api.moveFace(faceId, null));
  }

  async act(call) {
    this.statusEl.textContent = "Saving…";
    try {
      await call();
      await this.show(this.personId);
    } catch (error) {
      this.statusEl.textContent = error.status === 404 ? "This person is not in your library any more." : `Not saved: ${error.message}`;
    }
  }

  reset() {
    this.generation += 1;
    this.personId = null;
    this.body.replaceChildren();
  }
}
