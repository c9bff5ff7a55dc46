// Video in the boxes, behind one small interface per provider (as MediaProvider is on the
// server): `local` shows each box's state, `livekit` plays and publishes through LiveKit's
// browser SDK, installed by `make web-vendor` (see mylivelinks/web/vendor.json).
const LIVEKIT_SDK = "./vendor/livekit-client.esm.mjs";

// Local development credentials carry no video: the boxes show their state instead.
class PlaceholderMedia {
  constructor(note) {
    this.note = note;
  }

  plays() {
    return false;
  }

  async watch() {}

  unwatch() {}

  async join() {}

  async startPublishing() {}

  async stopPublishing() {}

  async leave() {}
}

class LiveKitMedia {
  constructor(sdk) {
    this.sdk = sdk;
    this.note = "";
    this.room = null;
    this.role = null;
    this.watching = new Map(); // streamer identity -> the box's media element
  }

  plays(identity) {
    return this.watching.has(identity);
  }

  async connect(credentials) {
    if (this.room && (this.role === "publisher" || credentials.role !== "publisher")) return;
    if (this.room) await this.room.disconnect(); // a viewer going live rejoins as publisher
    const { Room, RoomEvent, Track } = this.sdk;
    const room = new Room({ adaptiveStream: true, dynacast: true });
    room.on(RoomEvent.TrackPublished, (publication, participant) => {
      if (this.watching.has(participant.identity)) publication.setSubscribed(true);
    });
    room.on(RoomEvent.TrackSubscribed, (track, publication, participant) => {
      const element = this.watching.get(participant.identity);
      if (!element || track.kind !== Track.Kind.Video && track.kind !== Track.Kind.Audio) return;
      const media = track.attach();
      media.setAttribute("aria-label", `Live video of box ${element.dataset.position || ""}`);
      if (track.kind === Track.Kind.Video) element.replaceChildren(media);
      else element.append(media);
    });
    room.on(RoomEvent.TrackUnsubscribed, (track) => {
      for (const media of track.detach()) media.remove();
    });
    await room.connect(credentials.url, credentials.token, { autoSubscribe: false });
    this.room = room;
    this.role = credentials.role;
  }

  publications(identity) {
    const participant = this.room && this.room.remoteParticipants.get(identity);
    return participant ? [...participant.trackPublications.values()] : [];
  }

  async watch(identity, element, credentials) {
    this.watching.set(identity, element);
    await this.connect(credentials);
    for (const publication of this.publications(identity)) publication.setSubscribed(true);
  }

  unwatch(identity) {
    for (const publication of this.publications(identity)) publication.setSubscribed(false);
    this.watching.delete(identity);
  }

  // A streamer joins with publisher credentials, camera off until `publish:start`.
  async join(credentials) {
    await this.connect(credentials);
  }

  async startPublishing() {
    if (!this.room) return;
    await this.room.localParticipant.setCameraEnabled(true);
    await this.room.localParticipant.setMicrophoneEnabled(true);
  }

  // `publish:stop`: nothing leaves the browser until the next `publish:start`.
  async stopPublishing() {
    if (!this.room) return;
    const { Track } = this.sdk;
    for (const source of [Track.Source.Camera, Track.Source.Microphone]) {
      const publication = this.room.localParticipant.getTrackPublication(source);
      if (publication && publication.track) {
        await this.room.localParticipant.unpublishTrack(publication.track, true);
      }
    }
  }

  async leave() {
    if (this.room) await this.room.disconnect();
    this.room = null;
    this.role = null;
    this.watching.clear();
  }
}

const loaders = {
  local: async () => new PlaceholderMedia(""),
  livekit: async () => {
    try {
      return new LiveKitMedia(await import(LIVEKIT_SDK));
    } catch {
      return new PlaceholderMedia(
        "LiveKit video needs its browser SDK: run `make web-vendor` on the server.");
    }
  },
};

const cache = new Map();

// The video of `provider` (from the credentials the API returned); a placeholder that says
// why for a provider this client does not play.
export function mediaFor(provider) {
  if (!cache.has(provider)) {
    const load = loaders[provider] ||
      (async () => new PlaceholderMedia(`Video through ${provider} is not built into this client yet.`));
    cache.set(provider, load());
  }
  return cache.get(provider);
}
