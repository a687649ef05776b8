-- Bundles: products made of other products, their components, each with
-- the units one bundle unit takes. They belong to the setup: a change of
-- them moves the setup's version, and a Store keeps them in memory with
-- the setup it caches at that version.

CREATE TABLE onlinestock_bundle_components (
	tenant    text COLLATE "C" NOT NULL,
	bundle    text COLLATE "C" NOT NULL,
	component text COLLATE "C" NOT NULL,
	quantity  bigint NOT NULL,
	PRIMARY KEY (tenant, bundle, component)
);

-- A component's movement by a bundle's units names the bundle.
ALTER TABLE onlinestock_movements ADD COLUMN bundle text COLLATE "C" NOT NULL DEFAULT '';
