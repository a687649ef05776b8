package pgstore

// HotStatements are the statements of the hot paths whose plans
// TestHotPlansUseIndexes checks, and which TestHotPathsRunOnOneShard
// requires to run on one shard of a Citus cluster, by name.
var HotStatements = map[string]string{
	"products":            sqlProducts,
	"products-at":         sqlProductsAt,
	"lock-products":       sqlLockProducts,
	"lock-products-at":    sqlLockProductsAt,
	"create-setup":        sqlCreateSetup,
	"claim-keys":          sqlClaimKeys,
	"page-products":       sqlPageProducts,
	"page-levels":         sqlPageLevels,
	"set-enabled":         sqlSetEnabled,
	"create-products":     sqlCreateProducts,
	"put-levels":          sqlPutLevels,
	"delete-placeholders": sqlDeletePlaceholders,
	"insert-events":       sqlInsertEvents,
	"create-counter":      sqlCreateCounter,
	"number-events":       sqlNumberEvents,
	"events-since":        sqlEventsSince,
	"sweep-keys":          sqlSweepKeys,
	"claimed-keys":        sqlClaimedKeys,
	"insert-movements":    sqlInsertMovements,
	"insert-movement":     sqlInsertMovement,
	"create-ledger-count": sqlCreateLedgerCounter,
	"number-movements":    sqlNumberMovements,
	"movements":           sqlMovements,
	"movements-product":   sqlMovementsOfProduct,
	"movements-ref":       sqlMovementsOfRef,
	"lock-pending":        sqlLockPending,
	"mark-pending":        sqlMarkPending,
	"settle":              sqlSettle,
}

// PlanSettings are the planner settings the Store runs a statement of
// HotStatements with, in its transaction, if any.
var PlanSettings = map[string]string{
	"products-at":         sqlProductsAtPlan,
	"lock-products-at":    sqlProductsAtPlan,
	"number-events":       sqlNumberingPlan,
	"create-counter":      sqlNumberingPlan,
	"number-movements":    sqlNumberingPlan,
	"create-ledger-count": sqlNumberingPlan,
}

// GenericPlans are the statements of HotStatements the Store runs with
// their generic plan, except on Citus.
var GenericPlans = []string{"products"}

// PropagateSettings makes Citus pass the planner settings of a transaction
// on to its workers.
const PropagateSettings = sqlPropagateSettings

// CitusNumberingPlan are the numbering's planner settings as the Store
// makes them on Citus.
var CitusNumberingPlan = citusNumberingPlan

// SetPrefix restricts t to the tenants whose name starts with prefix, so
// that tests sharing a database keep to their own tenants.
func SetPrefix(t *Tenants, prefix string) { t.prefix = prefix }

// Prefix returns the prefix SetPrefix restricted t to.
func Prefix(t *Tenants) string { return t.prefix }
