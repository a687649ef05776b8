package pgstore

// HotStatements are the statements whose plans TestHotPlansUseIndexes
// checks, by name.
var HotStatements = map[string]string{
	"products":            sqlProducts,
	"products-at":         sqlProductsAt,
	"lock-products-at":    sqlLockProductsAt,
	"page-products":       sqlPageProducts,
	"page-levels":         sqlPageLevels,
	"set-enabled":         sqlSetEnabled,
	"delete-placeholders": sqlDeletePlaceholders,
	"number-events":       sqlNumberEvents,
	"events-since":        sqlEventsSince,
}

// PlanSettings are the planner settings the Store runs a statement of
// HotStatements with, in its transaction, if any.
var PlanSettings = map[string]string{
	"products-at":      sqlProductsAtPlan,
	"lock-products-at": sqlProductsAtPlan,
	"number-events":    sqlNumberingPlan,
}
